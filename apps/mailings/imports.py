"""Bulk import of clients from CSV or XLSX: streamed, validated per row, written in
batches, with the owner's object permissions assigned in bulk.

django-import-export's row machinery costs a few queries and a model ``full_clean``
per row (the model's ``clean`` alone asks the database whether the e-mail exists):
far too slow for 100,000 rows. This module is the fast path behind the admin's
import page: one query for the person's existing addresses, then one INSERT per
batch of new clients (plus one per batch for their permissions) and one UPDATE
per batch of changed ones.

Rules (also told to the person on the import page):

* columns ``email`` (required), ``full_name``, ``comment``; others are ignored;
* the owner is always the person importing, never a column of the file;
* an address the person already has (compared case-insensitively) updates that
  client's name and comment; an address repeated in the file counts once — the
  first row wins, later ones are skipped;
* any invalid row stops the import: nothing is saved, and every bad row is listed
  with its line number and the reason.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.core.validators import validate_no_newlines
from apps.mailings.exports import spreadsheet_unescape
from apps.mailings.models import Client

BATCH_SIZE = 2000
MAX_REPORTED_ERRORS = 200
EMAIL_MAX = Client._meta.get_field("email").max_length
NAME_MAX = Client._meta.get_field("full_name").max_length

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

IMPORT_RULES = _(
    "Columns: email (required), full_name, comment; other columns are ignored. "
    "An address you already have (whatever its case) updates that client's name "
    "and comment; an address repeated in the file counts once (the first row "
    "wins). If any row is invalid nothing is imported and every bad row is listed."
)


class ImportFileError(Exception):
    """The file as a whole cannot be read (wrong format, no e-mail column)."""


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


class _Rollback(Exception):
    pass


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    # Our exports escape formulas with an apostrophe: an exported file imports back.
    return spreadsheet_unescape(str(value))


def _clean_row(line: int, row: Mapping[str, Any], report: ImportReport):
    """(email, full_name, comment) of a valid row, or None after reporting it."""
    email = _text(row.get("email")).strip()
    full_name = _text(row.get("full_name")).strip()
    comment = _text(row.get("comment"))
    problems: list[RowError] = []
    if not email:
        problems.append(RowError(line, "email", gettext("An e-mail is required.")))
    elif len(email) > EMAIL_MAX:
        problems.append(
            RowError(
                line,
                "email",
                gettext("Longer than %(max)d characters.") % {"max": EMAIL_MAX},
                email[:80],
            )
        )
    else:
        try:
            validate_email(email)
        except ValidationError:
            problems.append(
                RowError(line, "email", gettext("Not a valid e-mail address."), email)
            )
    if len(full_name) > NAME_MAX:
        problems.append(
            RowError(
                line,
                "full_name",
                gettext("Longer than %(max)d characters.") % {"max": NAME_MAX},
                full_name[:80],
            )
        )
    else:
        try:
            validate_no_newlines(full_name)
        except ValidationError as exc:
            problems.append(RowError(line, "full_name", exc.messages[0], full_name))
    for problem in problems:
        report.add_error(problem)
    return None if problems else (email, full_name, comment)


def clients_import(
    *, owner, rows: Iterable[Mapping[str, Any] | None], batch_size: int = BATCH_SIZE
) -> ImportReport:
    """Import ``rows`` (dicts keyed email / full_name / comment, the first on line 2;
    None for a blank line) as clients of ``owner``; all or nothing (see the rules
    above)."""
    from apps.mailings.services import grant_owner_permissions_new

    report = ImportReport()
    try:
        with transaction.atomic():
            existing = {
                email.lower(): (pk, full_name, comment)
                for pk, email, full_name, comment in Client.objects.filter(
                    owner=owner
                ).values_list("pk", "email", "full_name", "comment")
            }
            seen: set[str] = set()
            to_create: list[Client] = []
            to_update: list[Client] = []
            now = timezone.now()

            def flush_create() -> None:
                if not report.ok:
                    to_create.clear()
                    return
                created = Client.objects.bulk_create(to_create)
                grant_owner_permissions_new(
                    owner=owner, model=Client, ids=[c.pk for c in created]
                )
                to_create.clear()

            def flush_update() -> None:
                if report.ok:
                    Client.objects.bulk_update(
                        to_update, ["full_name", "comment", "updated_at"]
                    )
                to_update.clear()

            for line, row in enumerate(rows, start=2):
                if row is None:
                    continue
                cleaned = _clean_row(line, row, report)
                if cleaned is None:
                    continue
                email, full_name, comment = cleaned
                key = email.lower()
                if key in seen:
                    report.duplicates += 1
                    continue
                seen.add(key)
                if key in existing:
                    pk, old_name, old_comment = existing[key]
                    if (old_name, old_comment) == (full_name, comment):
                        report.unchanged += 1
                        continue
                    report.updated += 1
                    to_update.append(
                        Client(
                            pk=pk, full_name=full_name, comment=comment, updated_at=now
                        )
                    )
                    if len(to_update) >= batch_size:
                        flush_update()
                else:
                    report.created += 1
                    to_create.append(
                        Client(
                            owner=owner,
                            email=email,
                            full_name=full_name,
                            comment=comment,
                        )
                    )
                    if len(to_create) >= batch_size:
                        flush_create()
            flush_create()
            flush_update()
            if not report.ok:
                raise _Rollback
    except _Rollback:
        report.created = report.updated = report.unchanged = report.duplicates = 0
    except IntegrityError:
        # Another import (or a form) added one of these addresses meanwhile.
        report = ImportReport()
        report.add_error(
            RowError(
                0,
                "email",
                gettext(
                    "Your client list changed while importing; nothing was "
                    "imported. Please try again."
                ),
            )
        )
    return report


# --- reading files -----------------------------------------------------------------


def _mapped(header: Iterable[Any]) -> list[str | None]:
    names = [COLUMNS.get(_text(h).strip().lower()) for h in header]
    if "email" not in names:
        raise ImportFileError(
            gettext("The file needs an “email” column in its first row.")
        )
    return names


def _rows(names: list[str | None], records: Iterator[Iterable[Any]]):
    for record in records:
        values = list(record)
        if not any(_text(v).strip() for v in values):
            # Blank lines (spreadsheets often end with some) are skipped, but
            # still counted so that later rows keep their line numbers.
            yield None
            continue
        yield {
            name: value
            for name, value in zip(names, values, strict=False)
            if name is not None
        }


def read_csv(file: IO[bytes]) -> Iterator[dict[str, Any] | None]:
    """Rows of a UTF-8 CSV (with or without BOM), streamed."""
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    try:
        reader = csv.reader(text)
        header = next(reader, None)
        if header is None:
            raise ImportFileError(gettext("The file is empty."))
        yield from _rows(_mapped(header), reader)
    except UnicodeDecodeError as exc:
        raise ImportFileError(gettext("The file is not UTF-8 text.")) from exc
    except csv.Error as exc:
        raise ImportFileError(
            gettext("The file is not valid CSV: %(error)s") % {"error": exc}
        ) from exc
    finally:
        text.detach()


def read_xlsx(file: IO[bytes]) -> Iterator[dict[str, Any] | None]:
    """Rows of the first sheet of an XLSX workbook, streamed (read-only mode)."""
    from zipfile import BadZipFile

    import openpyxl

    try:
        workbook = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except (BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportFileError(gettext("The file is not an XLSX workbook.")) from exc
    try:
        records = workbook.active.iter_rows(values_only=True)
        header = next(records, None)
        if header is None:
            raise ImportFileError(gettext("The file is empty."))
        yield from _rows(_mapped(header), records)
    finally:
        workbook.close()


__all__ = [
    "IMPORT_RULES",
    "ImportFileError",
    "ImportReport",
    "RowError",
    "clients_import",
    "read_csv",
    "read_xlsx",
]
