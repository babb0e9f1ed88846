"""Bulk import of clients from CSV or XLSX, in the background: the upload is
checked and stored, a task reads it twice (once to validate every row, once to
write), and the clients are written in short transactions of ``BATCH_SIZE`` rows
with the owner's object permissions assigned in bulk.

django-import-export's row machinery costs a few queries and a model ``full_clean``
per row (the model's ``clean`` alone asks the database whether the e-mail exists):
far too slow for 100,000 rows. Each batch here costs one query for the addresses
the person already has among the batch's, one INSERT of new clients (plus their
permissions) and one UPDATE of changed ones. A batch is its own transaction, so on
SQLite other writers (logins, the scheduler) wait a moment at most, never for the
whole import.

Rules (also told to the person on the import page):

* columns ``email`` (required), ``full_name``, ``comment``; others are ignored;
* the owner is always the person importing, never a column of the file;
* an address the person already has (compared case-insensitively) updates that
  client's name and comment; an address repeated in the file counts once — the
  first row wins, later ones are skipped;
* any invalid row stops the import: nothing is saved, and every bad row is listed
  with its line number and the reason (every row is checked before any is written);
* files over ``MAILSHOT_IMPORT_MAX_BYTES``, with more than
  ``MAILSHOT_IMPORT_MAX_ROWS`` data rows, or XLSX workbooks whose parts would unpack
  to more than ``MAILSHOT_IMPORT_MAX_UNPACKED_BYTES`` are refused.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, cast
from xml.etree.ElementTree import ParseError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from apps.core.validators import (
    validate_no_control_characters,
    validate_no_newlines,
)
from apps.mailings.exports import spreadsheet_unescape
from apps.mailings.models import Client, ClientImport
from apps.mailings.services import grant_owner_permissions_new

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000  # rows per transaction
PROGRESS_EVERY = 5000  # rows checked between two progress notes
MAX_REPORTED_ERRORS = 200
# Both columns are bounded; the stubs' get_field answers any field, whose max_length
# may be None.
EMAIL_MAX = cast(int, Client._meta.get_field("email").max_length)
NAME_MAX = cast(int, Client._meta.get_field("full_name").max_length)
# An XLSX workbook is a handful of parts; thousands of them is not a workbook.
MAX_XLSX_PARTS = 1000

# Header aliases, compared lower-cased and stripped: the export's own headers too.
COLUMNS = {
    "email": "email",
    "e-mail": "email",
    "e_mail": "email",
    "full_name": "full_name",
    "full name": "full_name",
    "name": "full_name",
    "comment": "comment",
}

# Control characters and line separators, spelled out when a report shows a cell.
UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")

IMPORT_RULES = _(
    "Columns: email (required), full_name, comment; other columns are ignored. "
    "An address you already have (whatever its case) updates that client's name "
    "and comment; an address repeated in the file counts once (the first row "
    "wins). If any row is invalid nothing is imported and every bad row is listed."
)


class ImportFileError(Exception):
    """The file as a whole cannot be imported (format, limits, no e-mail column)."""


@dataclass(frozen=True)
class ImportLimits:
    max_bytes: int
    max_rows: int
    max_unpacked_bytes: int

    @classmethod
    def from_settings(cls) -> ImportLimits:
        return cls(
            max_bytes=settings.MAILSHOT_IMPORT_MAX_BYTES,
            max_rows=settings.MAILSHOT_IMPORT_MAX_ROWS,
            max_unpacked_bytes=settings.MAILSHOT_IMPORT_MAX_UNPACKED_BYTES,
        )


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    message: str
    value: str = ""


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def add_error(self, error: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)


# --- checking and cleaning rows ---------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    # Our exports escape formulas with an apostrophe: an exported file imports back.
    return spreadsheet_unescape(str(value))


def _shown(value: str, limit: int = 80) -> str:
    """A cell as the report shows it: cut short, control characters spelled out
    (a NUL can neither be shown nor stored in PostgreSQL's JSON)."""
    return UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", value[:limit])


def _invalid(
    line: int, column: str, value: str, validator: Callable[[str], None]
) -> RowError | None:
    try:
        validator(value)
    except ValidationError as exc:
        return RowError(line, column, exc.messages[0], _shown(value))
    return None


def _cleaned(row: Mapping[str, Any]) -> tuple[str, str, str]:
    """(email, full_name, comment) of a row, as they would be saved."""
    return (
        _text(row.get("email")).strip(),
        _text(row.get("full_name")).strip(),
        _text(row.get("comment")),
    )


def _clean_row(
    line: int, row: Mapping[str, Any], report: ImportReport
) -> tuple[str, str, str] | None:
    """(email, full_name, comment) of a valid row, or None after reporting it."""
    email, full_name, comment = _cleaned(row)
    problems: list[RowError] = []
    # The models' own checks of one-line and multi-line text (control characters:
    # NUL breaks PostgreSQL, the others would reach mail headers).
    one_line = _invalid(line, "email", email, validate_no_newlines)
    if not email:
        problems.append(RowError(line, "email", gettext("An e-mail is required.")))
    elif one_line:
        problems.append(one_line)
    elif len(email) > EMAIL_MAX:
        problems.append(
            RowError(
                line,
                "email",
                gettext("Longer than %(max)d characters.") % {"max": EMAIL_MAX},
                _shown(email),
            )
        )
    else:
        try:
            validate_email(email)
        except ValidationError:
            problems.append(
                RowError(
                    line, "email", gettext("Not a valid e-mail address."), _shown(email)
                )
            )
    if len(full_name) > NAME_MAX:
        problems.append(
            RowError(
                line,
                "full_name",
                gettext("Longer than %(max)d characters.") % {"max": NAME_MAX},
                _shown(full_name),
            )
        )
    elif problem := _invalid(line, "full_name", full_name, validate_no_newlines):
        problems.append(problem)
    if problem := _invalid(line, "comment", comment, validate_no_control_characters):
        problems.append(problem)
    for error in problems:
        report.add_error(error)
    return None if problems else (email, full_name, comment)


Rows = Iterable[tuple[int, Mapping[str, Any]]]


def rows_check(
    rows: Rows, *, on_progress: Callable[[int], None] | None = None
) -> tuple[ImportReport, int]:
    """Validate every row without writing: the report of problems and the number
    of data rows."""
    report = ImportReport()
    count = 0
    for line, row in rows:
        _clean_row(line, row, report)
        count += 1
        if on_progress is not None and count % PROGRESS_EVERY == 0:
            on_progress(count)
    return report, count


# --- writing rows -----------------------------------------------------------------


class ImportProgress:
    """Where a writing pass starts and what it saves with each batch.

    Without a job (tests, the benchmark) it starts from nothing and saves nothing
    beyond the clients; with one, it resumes after the job's saved batches."""

    def __init__(self, job: ClientImport | None = None) -> None:
        self.job = job
        self.report = ImportReport()
        self.rows_done = 0
        if job is not None:
            self.report = ImportReport(
                created=job.created_count,
                updated=job.updated_count,
                unchanged=job.unchanged_count,
                duplicates=job.duplicate_count,
            )
            self.rows_done = job.rows_done

    def batch_saved(self, report: ImportReport, rows_done: int) -> None:
        """Called inside the batch's transaction: saved with the clients or not."""
        self.report, self.rows_done = report, rows_done
        if self.job is not None:
            ClientImport.objects.filter(pk=self.job.pk).update(
                rows_done=rows_done,
                created_count=report.created,
                updated_count=report.updated,
                unchanged_count=report.unchanged,
                duplicate_count=report.duplicates,
                updated_at=timezone.now(),
            )


class _BatchWriter:
    """Writes one owner's checked rows, a batch per transaction."""

    def __init__(self, owner: Any, progress: ImportProgress) -> None:
        self.owner = owner
        self.progress = progress
        self.report = progress.report
        self.rows_saved = progress.rows_done
        # The addresses the owner had when the import began: a batch asks for the
        # current name and comment of these only (nothing at all for a list of new
        # people). One added meanwhile by another writer breaks the unique
        # constraint, and the batch is written again after asking about all of
        # its addresses.
        self.known = set(
            Client.objects.filter(owner=owner)
            .annotate(key=Lower("email"))
            .values_list("key", flat=True)
        )

    def write(self, batch: list[tuple[str, str, str]], rows_done: int) -> None:
        for attempt in range(3):
            try:
                with transaction.atomic():
                    report = self._save(batch, rows_done, ask_all=attempt > 0)
            except IntegrityError:
                if attempt == 2:
                    raise
            else:
                self.report, self.rows_saved = report, rows_done
                return

    def _save(
        self, batch: list[tuple[str, str, str]], rows_done: int, *, ask_all: bool
    ) -> ImportReport:
        keys = [email.lower() for email, _name, _comment in batch]
        asked = keys if ask_all else [key for key in keys if key in self.known]
        existing = {}
        if asked:
            existing = {
                key: (pk, full_name, comment)
                for pk, key, full_name, comment in Client.objects.filter(
                    owner=self.owner
                )
                .annotate(key=Lower("email"))
                .filter(key__in=asked)
                .values_list("pk", "key", "full_name", "comment")
            }
        after = ImportReport(
            created=self.report.created,
            updated=self.report.updated,
            unchanged=self.report.unchanged,
            duplicates=self.report.duplicates,
        )
        now = timezone.now()
        to_create: list[Client] = []
        to_update: list[Client] = []
        for (email, full_name, comment), key in zip(batch, keys, strict=True):
            if key not in existing:
                after.created += 1
                to_create.append(
                    Client(
                        owner=self.owner,
                        email=email,
                        full_name=full_name,
                        comment=comment,
                    )
                )
                continue
            pk, old_name, old_comment = existing[key]
            if (old_name, old_comment) == (full_name, comment):
                after.unchanged += 1
            else:
                after.updated += 1
                to_update.append(
                    Client(pk=pk, full_name=full_name, comment=comment, updated_at=now)
                )
        if to_create:
            created = Client.objects.bulk_create(to_create)
            grant_owner_permissions_new(
                owner=self.owner, model=Client, ids=[c.pk for c in created]
            )
        if to_update:
            Client.objects.bulk_update(
                to_update, ["full_name", "comment", "updated_at"]
            )
        self.progress.batch_saved(after, rows_done)
        return after


def rows_write(
    *,
    owner: Any,
    rows: Rows,
    progress: ImportProgress,
    batch_size: int | None = None,
) -> ImportReport:
    """Write rows already checked by ``rows_check``, ``batch_size`` (by default
    ``BATCH_SIZE``) per transaction.

    The first ``progress.rows_done`` rows were saved by an earlier run of the same
    job: they are only read again to know which addresses the file already had."""
    batch_size = batch_size or BATCH_SIZE
    writer = _BatchWriter(owner, progress)
    skip = progress.rows_done
    seen: set[str] = set()
    batch: list[tuple[str, str, str]] = []
    count = 0
    for _line, row in rows:
        count += 1
        cleaned = _cleaned(row)
        key = cleaned[0].lower()
        if count <= skip:
            seen.add(key)
        elif key in seen:
            writer.report.duplicates += 1
        else:
            seen.add(key)
            batch.append(cleaned)
            if len(batch) >= batch_size:
                writer.write(batch, count)
                batch = []
    if batch or count > writer.rows_saved:
        writer.write(batch, count)
    return writer.report


def clients_import(
    *,
    owner: Any,
    open_rows: Callable[[], Rows],
    batch_size: int | None = None,
    progress: ImportProgress | None = None,
) -> ImportReport:
    """Import the rows ``open_rows()`` yields ((line, {email, full_name, comment})
    pairs; called twice: to check, then to write) as clients of ``owner``."""
    report, _count = rows_check(open_rows())
    if not report.ok:
        return report
    return rows_write(
        owner=owner,
        rows=open_rows(),
        progress=progress or ImportProgress(),
        batch_size=batch_size,
    )


# --- reading files -----------------------------------------------------------------


def _mapped(header: Iterable[Any]) -> list[str | None]:
    names = [COLUMNS.get(_text(h).strip().lower()) for h in header]
    if "email" not in names:
        raise ImportFileError(
            gettext("The file needs an “email” column in its first row.")
        )
    return names


def _too_many_rows(limits: ImportLimits) -> ImportFileError:
    return ImportFileError(
        gettext("The file has more than %(max)s rows: split it into smaller files.")
        % {"max": _number(limits.max_rows)}
    )


def _rows(
    names: list[str | None], records: Iterator[Iterable[Any]], limits: ImportLimits
) -> Iterator[tuple[int, dict[str, Any]]]:
    count = 0
    for line, record in enumerate(records, start=2):
        values = list(record)
        if not any(_text(v).strip() for v in values):
            # Blank lines (spreadsheets often end with some) are skipped, but
            # still counted so that later rows keep their line numbers.
            continue
        count += 1
        if count > limits.max_rows:
            raise _too_many_rows(limits)
        yield (
            line,
            {
                name: value
                for name, value in zip(names, values, strict=False)
                if name is not None
            },
        )


def read_csv(
    file: IO[bytes], limits: ImportLimits | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, row) of a UTF-8 CSV (with or without BOM), streamed."""
    limits = limits or ImportLimits.from_settings()
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    try:
        reader = csv.reader(text)
        header = next(reader, None)
        if header is None:
            raise ImportFileError(gettext("The file is empty."))
        yield from _rows(_mapped(header), reader, limits)
    except UnicodeDecodeError as exc:
        raise ImportFileError(gettext("The file is not UTF-8 text.")) from exc
    except csv.Error as exc:
        raise ImportFileError(
            gettext("The file is not valid CSV: %(error)s") % {"error": exc}
        ) from exc
    finally:
        text.detach()


def _not_xlsx() -> ImportFileError:
    return ImportFileError(gettext("The file is not an XLSX workbook."))


def check_xlsx_archive(file: IO[bytes], limits: ImportLimits) -> None:
    """Refuse a workbook whose parts would unpack beyond the limit, from the sizes
    the zip's directory declares, before any part is opened.

    The sizes are also what limits reading: Python's zipfile never inflates a part
    beyond its declared size (a part that claims less than it holds stops there
    and fails its CRC check), so a lying directory cannot get past this check."""
    try:
        with zipfile.ZipFile(file) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise _not_xlsx() from exc
    finally:
        file.seek(0)
    unpacked = sum(part.file_size for part in parts)
    if len(parts) > MAX_XLSX_PARTS or unpacked > limits.max_unpacked_bytes:
        raise ImportFileError(
            gettext(
                "The workbook unpacks to %(size)s, more than the %(max)s allowed: "
                "save it as CSV, or split it into smaller files."
            )
            % {
                "size": filesizeformat(unpacked),
                "max": filesizeformat(limits.max_unpacked_bytes),
            }
        )


# What a damaged or hostile workbook raises inside openpyxl and zipfile.
_XLSX_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    KeyError,
    OSError,
    ValueError,
    TypeError,
    AttributeError,
    EOFError,
    ParseError,
)


def read_xlsx(
    file: IO[bytes], limits: ImportLimits | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, row) of the first sheet of an XLSX workbook, streamed (read-only)."""
    import openpyxl

    limits = limits or ImportLimits.from_settings()
    check_xlsx_archive(file, limits)
    try:
        workbook = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except _XLSX_ERRORS as exc:
        raise _not_xlsx() from exc
    try:
        records = workbook.active.iter_rows(values_only=True)
        header = next(records, None)
        if header is None:
            raise ImportFileError(gettext("The file is empty."))
        yield from _rows(_mapped(header), records, limits)
    except _XLSX_ERRORS as exc:
        raise _not_xlsx() from exc
    finally:
        workbook.close()


READERS: dict[str, Callable[..., Iterator[tuple[int, dict[str, Any]]]]] = {
    ClientImport.Format.CSV: read_csv,
    ClientImport.Format.XLSX: read_xlsx,
}


def check_upload(file: IO[bytes], *, file_format: str, limits: ImportLimits) -> None:
    """What can be refused while the person waits for the upload page: the size,
    an XLSX whose parts unpack too far, and a CSV's encoding, e-mail column and
    number of rows (reading a CSV of the largest allowed size takes a moment; an
    XLSX workbook's rows are counted by the task)."""
    file.seek(0, os.SEEK_END)
    size = file.tell()
    file.seek(0)
    if size > limits.max_bytes:
        raise ImportFileError(
            gettext("The file is %(size)s, more than the %(max)s allowed.")
            % {"size": filesizeformat(size), "max": filesizeformat(limits.max_bytes)}
        )
    if file_format == ClientImport.Format.XLSX:
        check_xlsx_archive(file, limits)
        return
    try:
        for _row in read_csv(file, limits):
            pass
    finally:
        file.seek(0)


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


def client_import_start(
    *, owner: Any, upload: UploadedFile, file_format: str
) -> ClientImport:
    """Check the upload, keep it in MAILSHOT_IMPORT_DIR and queue its import.

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
    if ClientImport.objects.filter(
        _unfinished(), owner=owner, updated_at__gte=_stale_before()
    ).exists():
        raise ImportFileError(
            gettext("An import of yours is still running: wait until it has finished.")
        )
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

    def open_rows() -> Iterator[tuple[int, dict[str, Any]]]:
        with open(path, "rb") as file:
            yield from reader(file, limits)

    def checked(count: int) -> None:
        ClientImport.objects.filter(pk=job.pk).update(
            rows_checked=count, updated_at=timezone.now()
        )

    try:
        if not path.exists():
            raise ImportFileError(
                gettext(
                    "The uploaded file is not where the import looks for it "
                    "(MAILSHOT_IMPORT_DIR must be shared by the web server and "
                    "every cluster). Please upload it again."
                )
            )
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
        report = rows_write(owner=job.owner, rows=open_rows(), progress=progress)
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
        f"unchanged, {report.duplicates} repeated"
    )


def job_report(job: ClientImport) -> ImportReport:
    """The report of a job, as the import page shows it."""
    return ImportReport(
        created=job.created_count,
        updated=job.updated_count,
        unchanged=job.unchanged_count,
        duplicates=job.duplicate_count,
        error_count=job.error_count,
        errors=[RowError(**error) for error in job.errors],
    )


def _number(value: int) -> str:
    return number_format(value, force_grouping=True)


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
    }
    if job.status == Status.QUEUED:
        text = gettext("Waiting for a worker to start the import.")
    elif job.status == Status.CHECKING:
        text = ngettext(
            "Checking the file: %(count)s row read.",
            "Checking the file: %(count)s rows read.",
            job.rows_checked,
        ) % {"count": _number(job.rows_checked)}
    elif job.status == Status.IMPORTING:
        total = job.rows_total or 0
        percent = min(100, 100 * job.rows_done // total) if total else 0
        text = ngettext(
            "Importing: %(done)s of %(total)s row.",
            "Importing: %(done)s of %(total)s rows.",
            total,
        ) % {"done": _number(job.rows_done), "total": _number(total)}
    elif job.status == Status.DONE:
        percent = 100
        text = (
            gettext(
                "Import done: %(created)d new, %(updated)d updated, "
                "%(unchanged)d unchanged, %(duplicates)d repeated rows skipped."
            )
            % counts
        )
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


__all__ = [
    "BATCH_SIZE",
    "IMPORT_RULES",
    "ImportFileError",
    "ImportLimits",
    "ImportProgress",
    "ImportReport",
    "RowError",
    "check_upload",
    "check_xlsx_archive",
    "client_import_create",
    "client_import_run",
    "client_import_start",
    "clients_import",
    "job_progress",
    "job_report",
    "read_csv",
    "read_xlsx",
    "rows_check",
    "rows_write",
]
