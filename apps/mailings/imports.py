"""Bulk import of clients from CSV or XLSX: the rows are read twice (once to validate
every row, once to write), and the clients are written in short transactions of
``BATCH_SIZE`` rows with the owner's object permissions assigned in bulk. Reading
files and their limits live in ``import_files``; the background job that runs this
in ``import_jobs``.

django-import-export's row machinery costs a few queries and a model ``full_clean``
per row (the model's ``clean`` alone asks the database whether the e-mail exists):
far too slow for 100,000 rows. Each batch here costs one query for the addresses
the person already has among the batch's, one INSERT of new clients (plus their
permissions) and one UPDATE of changed ones. A batch is its own transaction, so on
SQLite other writers (logins, the scheduler) wait a moment at most, never for the
whole import.

Rules (also told to the person on the import page):

* columns ``email`` (required), ``full_name``, ``comment`` (recognised by their
  English or Russian headers, or mapped on the preview page); other columns become
  attributes of the client (merged into those it has) unless the person ignores
  them;
* the owner is always the person importing, never a column of the file;
* an address the person already has (compared case-insensitively) updates that
  client's name, comment and attributes; an address repeated in the file counts
  once — the first row wins, later ones are skipped;
* with a list chosen, every imported client is subscribed to it, except an
  address the person (or the site) suppresses or whose owner unsubscribed: it is
  counted as suppressed and never subscribed again by an import;
* any invalid row stops the import: nothing is saved, and every bad row is listed
  with its line number and the reason (every row is checked before any is written);
* files over ``MAILSHOT_IMPORT_MAX_BYTES``, with more than
  ``MAILSHOT_IMPORT_MAX_ROWS`` data rows, or XLSX workbooks whose parts would unpack
  to more than ``MAILSHOT_IMPORT_MAX_UNPACKED_BYTES`` are refused.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from cachalot.api import cachalot_disabled
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.audiences.models import ClientList, Subscription, Suppression
from apps.core.db import column
from apps.core.validators import (
    validate_no_control_characters,
    validate_no_newlines,
)
from apps.mailings.import_files import (
    UNPRINTABLE,
    cell_text,
)
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
ATTRIBUTE_MAX = 1000  # characters of one attribute's value

IMPORT_RULES = _(
    "Columns: e-mail (required), full name, comment — English or Russian headers "
    "are recognised; any other column becomes an attribute of the client. After "
    "the upload you check how the columns are read and which list the clients "
    "join, before anything is saved. An address you already have (whatever its "
    "case) updates that client; an address repeated in the file counts once (the "
    "first row wins); a suppressed or unsubscribed address is never subscribed "
    "again. If any row is invalid nothing is imported and every bad row is listed."
)

# One cleaned row: e-mail, full name, comment, attributes.
Cleaned = tuple[str, str, str, dict[str, str]]


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
    suppressed: int = 0
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


def _cleaned(row: Mapping[str, Any]) -> Cleaned:
    """(email, full_name, comment, attributes) of a row, as they would be saved;
    empty attribute cells are left out (they never erase a value)."""
    attributes = {}
    for name, value in (row.get("attributes") or {}).items():
        if text := cell_text(value).strip():
            attributes[name] = text
    return (
        cell_text(row.get("email")).strip(),
        cell_text(row.get("full_name")).strip(),
        cell_text(row.get("comment")),
        attributes,
    )


def _clean_row(
    line: int, row: Mapping[str, Any], report: ImportReport
) -> Cleaned | None:
    """The cleaned values of a valid row, or None after reporting its problems."""
    cleaned = _cleaned(row)
    email, full_name, comment, attributes = cleaned
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
    for name, value in attributes.items():
        if len(value) > ATTRIBUTE_MAX:
            problems.append(
                RowError(
                    line,
                    name,
                    gettext("Longer than %(max)d characters.") % {"max": ATTRIBUTE_MAX},
                    _shown(value),
                )
            )
        elif problem := _invalid(line, name, value, validate_no_newlines):
            problems.append(problem)
    for error in problems:
        report.add_error(error)
    return None if problems else cleaned


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


# --- what an address already is -------------------------------------------------

# Addresses asked about per query (an IN list of that many values).
LOOKUP_CHUNK = 1000


# The look-ups below ask about a thousand addresses at a time, never twice, and a
# batch's own writes make them stale at once: read around django-cachalot, which
# would otherwise pickle every answer into the cache (measured: a third of a
# 100,000-row preview).
def _suppressed_keys(owner: Any, keys: list[str]) -> set[str]:
    """Which of these lower-cased addresses the owner (or the site) suppresses."""
    found: set[str] = set()
    with cachalot_disabled():
        for start in range(0, len(keys), LOOKUP_CHUNK):
            found.update(
                Suppression.objects.filter(Q(owner=owner) | Q(owner__isnull=True))
                .annotate(key=Lower("email"))
                .filter(key__in=keys[start : start + LOOKUP_CHUNK])
                .values_list("key", flat=True)
            )
    return found


@dataclass(frozen=True)
class Known:
    """A client the owner already has, as an import compares it."""

    pk: int
    full_name: str
    comment: str
    attributes: dict[str, Any]
    is_unsubscribed: bool
    # Their subscription to the import's list, if any (a Subscription.Status).
    list_status: str | None = None


def _known_clients(
    owner: Any, keys: list[str], client_list: ClientList | None
) -> dict[str, Known]:
    """The owner's clients among these lower-cased addresses, by address."""
    with cachalot_disabled():
        return _known_clients_uncached(owner, keys, client_list)


def _known_clients_uncached(
    owner: Any, keys: list[str], client_list: ClientList | None
) -> dict[str, Known]:
    found: dict[str, Known] = {}
    for start in range(0, len(keys), LOOKUP_CHUNK):
        rows = (
            Client.objects.filter(owner=owner)
            .annotate(key=Lower("email"))
            .filter(key__in=keys[start : start + LOOKUP_CHUNK])
            .values_list(
                "pk", "key", "full_name", "comment", "attributes", "is_unsubscribed"
            )
        )
        key_of: dict[int, str] = {}
        for pk, key, full_name, comment, attributes, unsubscribed in rows:
            found[key] = Known(pk, full_name, comment, attributes or {}, unsubscribed)
            key_of[pk] = key
        if client_list is not None and key_of:
            statuses = Subscription.objects.filter(
                client_list=client_list, client_id__in=list(key_of)
            ).values_list("client_id", "status")
            for client_id, status in statuses:
                key = key_of[client_id]
                found[key] = dataclasses.replace(found[key], list_status=status)
    return found


def _is_suppressed(known: Known | None, key: str, suppressed: set[str]) -> bool:
    """Never subscribed again by an import: a suppressed address, a client who
    unsubscribed, or one who left the list."""
    return (
        key in suppressed
        or (known is not None and known.is_unsubscribed)
        or (known is not None and known.list_status == Subscription.Status.UNSUBSCRIBED)
    )


def _merged(known: Known, attributes: dict[str, str]) -> dict[str, Any]:
    return {**known.attributes, **attributes} if attributes else known.attributes


# --- the preview ------------------------------------------------------------------


@dataclass
class ImportPreview:
    """What importing the file would do, counted before anything is written."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    invalid: int = 0
    duplicates: int = 0
    suppressed: int = 0
    report: ImportReport = field(default_factory=ImportReport)


def import_preview(
    *, owner: Any, rows: Rows, client_list: ClientList | None = None
) -> ImportPreview:
    """Count new / updated / unchanged / invalid / repeated / suppressed rows of a
    file as ``rows_write`` would meet them, writing nothing (a few queries per
    thousand addresses)."""
    preview = ImportPreview()
    valid: dict[str, Cleaned] = {}
    for line, row in rows:
        preview.rows += 1
        cleaned = _clean_row(line, row, preview.report)
        if cleaned is None:
            preview.invalid += 1
            continue
        key = cleaned[0].lower()
        if key in valid:
            preview.duplicates += 1
        else:
            valid[key] = cleaned
    keys = list(valid)
    known = _known_clients(owner, keys, client_list)
    suppressed = _suppressed_keys(owner, keys)
    for key, (_email, full_name, comment, attributes) in valid.items():
        client = known.get(key)
        if client is None:
            preview.created += 1
        elif (client.full_name, client.comment, client.attributes) == (
            full_name,
            comment,
            _merged(client, attributes),
        ):
            preview.unchanged += 1
        else:
            preview.updated += 1
        if _is_suppressed(client, key, suppressed):
            preview.suppressed += 1
    return preview


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
                suppressed=job.suppressed_count,
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
                suppressed_count=report.suppressed,
                updated_at=timezone.now(),
            )


class _BatchWriter:
    """Writes one owner's checked rows, a batch per transaction."""

    def __init__(
        self,
        owner: Any,
        progress: ImportProgress,
        client_list: ClientList | None = None,
    ) -> None:
        self.owner = owner
        self.progress = progress
        self.client_list = client_list
        self.report = progress.report
        self.rows_saved = progress.rows_done
        # The addresses the owner had when the import began: a batch asks for the
        # current name and comment of these only (nothing at all for a list of new
        # people). One added meanwhile by another writer breaks the unique
        # constraint, and the batch is written again after asking about all of
        # its addresses.
        with cachalot_disabled():
            self.known = set(
                Client.objects.filter(owner=owner)
                .annotate(key=Lower("email"))
                .values_list("key", flat=True)
            )

    def write(self, batch: list[Cleaned], rows_done: int) -> None:
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
        self, batch: list[Cleaned], rows_done: int, *, ask_all: bool
    ) -> ImportReport:
        keys = [cleaned[0].lower() for cleaned in batch]
        asked = keys if ask_all else [key for key in keys if key in self.known]
        existing = _known_clients(self.owner, asked, self.client_list) if asked else {}
        suppressed = _suppressed_keys(self.owner, keys)
        after = ImportReport(
            created=self.report.created,
            updated=self.report.updated,
            unchanged=self.report.unchanged,
            duplicates=self.report.duplicates,
            suppressed=self.report.suppressed,
        )
        now = timezone.now()
        to_create: list[Client] = []
        to_update: list[Client] = []
        # Clients of the batch to subscribe to the list: pks of known ones, and
        # new ones once created.
        subscribe: list[int] = []
        subscribe_new: list[Client] = []
        for (email, full_name, comment, attributes), key in zip(
            batch, keys, strict=True
        ):
            known = existing.get(key)
            if _is_suppressed(known, key, suppressed):
                after.suppressed += 1
                listed = False
            else:
                listed = known is None or known.list_status is None
            if known is None:
                after.created += 1
                client = Client(
                    owner=self.owner,
                    email=email,
                    full_name=full_name,
                    comment=comment,
                    attributes=attributes,
                )
                to_create.append(client)
                if listed:
                    subscribe_new.append(client)
                continue
            if listed:
                subscribe.append(known.pk)
            merged = _merged(known, attributes)
            if (known.full_name, known.comment, known.attributes) == (
                full_name,
                comment,
                merged,
            ):
                after.unchanged += 1
            else:
                after.updated += 1
                to_update.append(
                    Client(
                        pk=known.pk,
                        full_name=full_name,
                        comment=comment,
                        attributes=merged,
                        updated_at=now,
                    )
                )
        if to_create:
            created = Client.objects.bulk_create(to_create)
            grant_owner_permissions_new(
                owner=self.owner, model=Client, ids=[c.pk for c in created]
            )
        if to_update:
            Client.objects.bulk_update(
                to_update, ["full_name", "comment", "attributes", "updated_at"]
            )
        if self.client_list is not None:
            subscribe += [client.pk for client in subscribe_new]
            if subscribe:
                _subscribe(self.client_list, subscribe, now)
        self.progress.batch_saved(after, rows_done)
        return after


def _subscribe(client_list: ClientList, client_ids: list[int], now: Any) -> None:
    """Subscribe these clients to the list in one INSERT ... SELECT (a model
    instance per subscription doubled the cost of an import into a list); a
    subscription made meanwhile (the public form) stays as it is. No
    ``confirmed_at``: the owner vouches for an import, the recipient confirmed
    nothing."""
    quote = connection.ops.quote_name
    subscription, client = Subscription._meta, Client._meta
    columns = ", ".join(
        quote(column(subscription, name))
        for name in ("client", "client_list", "status", "created_at")
    )
    ids = ", ".join(["%s"] * len(client_ids))
    # Only quoted names from the models' meta and placeholders are formatted in.
    sql = (
        f"INSERT INTO {quote(subscription.db_table)} ({columns}) "  # noqa: S608
        f"SELECT {quote(column(client, 'id'))}, %s, %s, %s "
        f"FROM {quote(client.db_table)} WHERE {quote(column(client, 'id'))} IN ({ids}) "
        "ON CONFLICT DO NOTHING"
    )
    params = [
        client_list.pk,
        Subscription.Status.SUBSCRIBED.value,
        connection.ops.adapt_datetimefield_value(now),
        *client_ids,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def rows_write(
    *,
    owner: Any,
    rows: Rows,
    progress: ImportProgress,
    batch_size: int | None = None,
    client_list: ClientList | None = None,
) -> ImportReport:
    """Write rows already checked by ``rows_check``, ``batch_size`` (by default
    ``BATCH_SIZE``) per transaction, subscribing them to ``client_list``.

    The first ``progress.rows_done`` rows were saved by an earlier run of the same
    job: they are only read again to know which addresses the file already had."""
    batch_size = batch_size or BATCH_SIZE
    writer = _BatchWriter(owner, progress, client_list)
    skip = progress.rows_done
    seen: set[str] = set()
    batch: list[Cleaned] = []
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
    client_list: ClientList | None = None,
) -> ImportReport:
    """Import the rows ``open_rows()`` yields ((line, {email, full_name, comment,
    attributes}) pairs; called twice: to check, then to write) as clients of
    ``owner``, subscribed to ``client_list`` when one is given."""
    report, _count = rows_check(open_rows())
    if not report.ok:
        return report
    return rows_write(
        owner=owner,
        rows=open_rows(),
        progress=progress or ImportProgress(),
        batch_size=batch_size,
        client_list=client_list,
    )
