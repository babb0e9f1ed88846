"""Reading client files for the import: CSV and XLSX rows, and the limits an upload
must keep (size, rows, an XLSX's unpacked size) checked before anything is unpacked."""

from __future__ import annotations

import csv
import io
import os
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any
from xml.etree.ElementTree import ParseError

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.formats import number_format
from django.utils.translation import gettext

from apps.mailings.exports import spreadsheet_unescape
from apps.mailings.models import ClientImport

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


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    # Our exports escape formulas with an apostrophe: an exported file imports back.
    return spreadsheet_unescape(str(value))


def number_text(value: int) -> str:
    """A count in the reader's number format (grouped digits)."""
    return number_format(value, force_grouping=True)


# --- reading files -----------------------------------------------------------------


def _mapped(header: Iterable[Any]) -> list[str | None]:
    names = [COLUMNS.get(cell_text(h).strip().lower()) for h in header]
    if "email" not in names:
        raise ImportFileError(
            gettext("The file needs an “email” column in its first row.")
        )
    return names


def _too_many_rows(limits: ImportLimits) -> ImportFileError:
    return ImportFileError(
        gettext("The file has more than %(max)s rows: split it into smaller files.")
        % {"max": number_text(limits.max_rows)}
    )


def _rows(
    names: list[str | None], records: Iterator[Iterable[Any]], limits: ImportLimits
) -> Iterator[tuple[int, dict[str, Any]]]:
    count = 0
    for line, record in enumerate(records, start=2):
        values = list(record)
        if not any(cell_text(v).strip() for v in values):
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
