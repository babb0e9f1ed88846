"""The client import as a background job: the upload is checked and stored and
waits, in the "preview" state, for the person to check how its columns are read and
which list it fills; confirmed, a django-q2 task takes the job (a conditional UPDATE
decides which worker), checks every row, then writes them in batches while the
job's counters tell the page its progress."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, cast

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from apps.audiences.models import ClientList
from apps.mailings.import_files import (
    READERS,
    UNPRINTABLE,
    ImportFileError,
    ImportLimits,
    ReadOptions,
    TableHead,
    check_upload,
    number_text,
    read_head,
)
from apps.mailings.imports import (
    ImportPreview,
    ImportProgress,
    ImportReport,
    RowError,
    import_preview,
    rows_check,
    rows_write,
)
from apps.mailings.models import ClientImport

logger = logging.getLogger(__name__)

# --- jobs ----------------------------------------------------------------------------


def import_dir() -> Path:
    return Path(settings.MAILSHOT_IMPORT_DIR)


def _stale_before() -> Any:
    """A job not heard of since then lost its worker (killed, timed out): django-q2
    hands its task out again, and that task may take the job over."""
    return timezone.now() - timedelta(seconds=settings.Q_CLUSTER.get("timeout") or 600)


def _unfinished() -> Q:
    return Q(
        status__in=[
            ClientImport.Status.QUEUED,
            ClientImport.Status.CHECKING,
            ClientImport.Status.IMPORTING,
        ]
    )


# A preview nobody confirmed within this time is dropped (with its file) at the
# person's next upload.
PREVIEW_KEPT = timedelta(days=1)


def _refuse_while_running(owner: Any) -> None:
    if ClientImport.objects.filter(
        _unfinished(), owner=owner, updated_at__gte=_stale_before()
    ).exists():
        raise ImportFileError(
            gettext("An import of yours is still running: wait until it has finished.")
        )


def client_import_upload(
    *, owner: Any, upload: UploadedFile, file_format: str
) -> ClientImport:
    """Check the upload and keep it in MAILSHOT_IMPORT_DIR: a job waiting for the
    person's check of its preview (``client_import_confirm``) — nothing imported yet.

    Raises ImportFileError with the reason the file (or the person, while another
    import of theirs runs) is refused."""
    for old in ClientImport.objects.filter(
        owner=owner,
        status=ClientImport.Status.PREVIEW,
        updated_at__lt=timezone.now() - PREVIEW_KEPT,
    ):
        (import_dir() / old.stored_name).unlink(missing_ok=True)
        old.delete()
    return _stored_job(
        owner=owner,
        upload=upload,
        file_format=file_format,
        status=ClientImport.Status.PREVIEW,
    )


def client_import_confirm(
    *, job: ClientImport, options: ReadOptions, client_list: ClientList | None
) -> bool:
    """Queue a previewed job's import, read with ``options`` into ``client_list``
    (the person's own, checked by the caller). False when the job was no longer
    waiting (confirmed twice, from two tabs)."""
    from django_q.tasks import async_task

    _refuse_while_running(job.owner)
    taken = ClientImport.objects.filter(
        pk=job.pk, status=ClientImport.Status.PREVIEW
    ).update(
        status=ClientImport.Status.QUEUED,
        options=options.as_json(),
        client_list=client_list,
        updated_at=timezone.now(),
    )
    if taken:
        transaction.on_commit(
            lambda: async_task("apps.mailings.import_tasks.run_client_import", job.pk)
        )
    return bool(taken)


def _job_file(job: ClientImport) -> Path:
    path = import_dir() / job.stored_name
    if not path.exists():
        raise ImportFileError(
            gettext(
                "The uploaded file is not where the import looks for it "
                "(MAILSHOT_IMPORT_DIR must be shared by the web server and "
                "every cluster). Please upload it again."
            )
        )
    return path


def job_head(job: ClientImport, options: ReadOptions | None = None) -> TableHead:
    """The headers and first rows of a job's file (the preview's table), read
    with ``options`` or, without them, with what is detected."""
    with open(_job_file(job), "rb") as file:
        return read_head(
            file,
            file_format=job.file_format,
            options=options,
            limits=ImportLimits.from_settings(),
        )


def job_preview(
    job: ClientImport, *, options: ReadOptions, client_list: ClientList | None
) -> ImportPreview:
    """What importing a job's file with ``options`` into ``client_list`` would do
    (a full read of the file, nothing written)."""
    reader = READERS[job.file_format]
    with open(_job_file(job), "rb") as file:
        return import_preview(
            owner=job.owner,
            rows=reader(file, ImportLimits.from_settings(), options),
            client_list=client_list,
        )


def client_import_start(
    *, owner: Any, upload: UploadedFile, file_format: str
) -> ClientImport:
    """Check the upload, keep it in MAILSHOT_IMPORT_DIR and queue its import at
    once, its columns read from the headers (no preview: scripts, tests).

    Raises ImportFileError with the reason the file (or the person, while another
    import of theirs runs) is refused."""
    from django_q.tasks import async_task

    job = client_import_create(owner=owner, upload=upload, file_format=file_format)
    transaction.on_commit(
        lambda: async_task("apps.mailings.import_tasks.run_client_import", job.pk)
    )
    return job


def client_import_create(
    *, owner: Any, upload: UploadedFile, file_format: str
) -> ClientImport:
    """The job of ``client_import_start``, not queued (the benchmark runs it)."""
    return _stored_job(
        owner=owner,
        upload=upload,
        file_format=file_format,
        status=ClientImport.Status.QUEUED,
    )


def _stored_job(
    *, owner: Any, upload: UploadedFile, file_format: str, status: str
) -> ClientImport:
    _refuse_while_running(owner)
    # An uploaded file always wraps an open file; the stubs share File's Optional.
    check_upload(
        cast(IO[bytes], upload.file),
        file_format=file_format,
        limits=ImportLimits.from_settings(),
    )
    directory = import_dir()
    directory.mkdir(parents=True, exist_ok=True)
    stored_name = f"{uuid.uuid4().hex}.{file_format}"
    # Readable by this account only: the file lists someone's recipients.
    fd = os.open(directory / stored_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return ClientImport.objects.create(
        owner=owner,
        status=status,
        file_format=file_format,
        file_name=UNPRINTABLE.sub("", upload.name or "")[:255],
        stored_name=stored_name,
    )


def _claim(job_id: int) -> ClientImport | None:
    """Take the job (a conditional UPDATE decides who runs it), or None when it is
    finished or another worker is on it."""
    taken = (
        ClientImport.objects.filter(pk=job_id)
        .filter(
            Q(status=ClientImport.Status.QUEUED)
            | Q(_unfinished(), updated_at__lt=_stale_before())
        )
        .update(status=ClientImport.Status.CHECKING, updated_at=timezone.now())
    )
    return ClientImport.objects.get(pk=job_id) if taken else None


def _finish(job: ClientImport, **fields: Any) -> None:
    ClientImport.objects.filter(pk=job.pk).update(
        finished_at=timezone.now(), updated_at=timezone.now(), **fields
    )
    (import_dir() / job.stored_name).unlink(missing_ok=True)


def client_import_run(job_id: int) -> str:
    """The task: check every row of the job's file, then write them in batches.
    Returns a one-line summary for django-q2's task list."""
    job = _claim(job_id)
    if job is None:
        return "not queued or taken by another worker"
    reader = READERS[job.file_format]
    path = import_dir() / job.stored_name
    limits = ImportLimits.from_settings()
    options = ReadOptions.from_json(job.options)

    def open_rows() -> Iterator[tuple[int, dict[str, Any]]]:
        with open(path, "rb") as file:
            yield from reader(file, limits, options)

    def checked(count: int) -> None:
        ClientImport.objects.filter(pk=job.pk).update(
            rows_checked=count, updated_at=timezone.now()
        )

    try:
        _job_file(job)
        report, count = rows_check(open_rows(), on_progress=checked)
        if not report.ok:
            _finish(
                job,
                status=ClientImport.Status.FAILED,
                rows_checked=count,
                error_count=report.error_count,
                errors=[vars(error) for error in report.errors],
            )
            return f"refused: {report.error_count} problems"
        ClientImport.objects.filter(pk=job.pk).update(
            status=ClientImport.Status.IMPORTING,
            rows_checked=count,
            rows_total=count,
            updated_at=timezone.now(),
        )
        progress = ImportProgress(job)
        report = rows_write(
            owner=job.owner,
            rows=open_rows(),
            progress=progress,
            client_list=job.client_list,
        )
    except ImportFileError as exc:
        _finish(job, status=ClientImport.Status.FAILED, problem=str(exc))
        return f"refused: {exc}"
    except Exception:
        # Whatever went wrong, the person learns it stopped; batches already saved
        # stay (a new import of the same file counts them as unchanged).
        logger.exception("Client import %s stopped", job.pk)
        _finish(
            job,
            status=ClientImport.Status.FAILED,
            problem=gettext(
                "The import stopped on an unexpected error. The rows counted below "
                "were saved; importing the file again keeps them as they are."
            ),
        )
        return "stopped on an error"
    _finish(job, status=ClientImport.Status.DONE)
    return (
        f"{report.created} new, {report.updated} updated, {report.unchanged} "
        f"unchanged, {report.duplicates} repeated, {report.suppressed} suppressed"
    )


def job_report(job: ClientImport) -> ImportReport:
    """The report of a job, as the import page shows it."""
    return ImportReport(
        created=job.created_count,
        updated=job.updated_count,
        unchanged=job.unchanged_count,
        duplicates=job.duplicate_count,
        suppressed=job.suppressed_count,
        error_count=job.error_count,
        errors=[RowError(**error) for error in job.errors],
    )


def job_progress(job: ClientImport) -> dict[str, Any]:
    """Where the job stands, in words and per cent (None while unknown): what the
    status page shows and polls for (JSON)."""
    Status = ClientImport.Status
    percent: int | None = None
    counts = {
        "created": job.created_count,
        "updated": job.updated_count,
        "unchanged": job.unchanged_count,
        "duplicates": job.duplicate_count,
        "suppressed": job.suppressed_count,
    }
    if job.status == Status.PREVIEW:
        text = gettext("Check how the file is read, then start the import.")
    elif job.status == Status.QUEUED:
        text = gettext("Waiting for a worker to start the import.")
    elif job.status == Status.CHECKING:
        text = ngettext(
            "Checking the file: %(count)s row read.",
            "Checking the file: %(count)s rows read.",
            job.rows_checked,
        ) % {"count": number_text(job.rows_checked)}
    elif job.status == Status.IMPORTING:
        total = job.rows_total or 0
        percent = min(100, 100 * job.rows_done // total) if total else 0
        text = ngettext(
            "Importing: %(done)s of %(total)s row.",
            "Importing: %(done)s of %(total)s rows.",
            total,
        ) % {"done": number_text(job.rows_done), "total": number_text(total)}
    elif job.status == Status.DONE:
        percent = 100
        text = (
            gettext(
                "Import done: %(created)d new, %(updated)d updated, "
                "%(unchanged)d unchanged, %(duplicates)d repeated rows skipped."
            )
            % counts
        )
        if job.suppressed_count:
            text += " " + ngettext(
                "%(count)d address is suppressed or unsubscribed: it joins no list "
                "and gets no mail.",
                "%(count)d addresses are suppressed or unsubscribed: they join no "
                "list and get no mail.",
                job.suppressed_count,
            ) % {"count": job.suppressed_count}
    elif job.rows_done:
        text = (
            gettext(
                "Saved before the import stopped: %(created)d new, %(updated)d "
                "updated, %(unchanged)d unchanged."
            )
            % counts
        )
    else:
        text = job.get_status_display()
    return {
        "status": job.status,
        "finished": job.is_finished,
        "percent": percent,
        "text": text,
        "rows_checked": job.rows_checked,
        "rows_total": job.rows_total,
        "rows_done": job.rows_done,
    }
