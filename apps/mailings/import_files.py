"""Reading client files for the import: CSV and XLSX rows, and the limits an upload
must keep (size, rows, an XLSX's unpacked size) checked before anything is unpacked.

A CSV is read the way a spreadsheet wrote it: UTF-8 (with or without BOM) or
Windows-1251 (what Excel saves in a Russian locale), with ``,``, ``;`` or a tab
between cells. Headers are matched to fields through English and Russian aliases
(case, spaces, ``-`` and ``_`` do not matter); any other column becomes a client
attribute. What was detected and how the columns map is a ``ReadOptions``: shown,
and open to change, on the import's preview page, then kept with the job."""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import os
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
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

# Fields a column can fill; any other column is an attribute ("attr:<name>") or
# ignored ("").
EMAIL, FULL_NAME, COMMENT = "email", "full_name", "comment"
FIELDS = (EMAIL, FULL_NAME, COMMENT)
ATTR_PREFIX = "attr:"
IGNORE = ""

# Header aliases, compared by ``header_key`` (lower case, without spaces, "-", "_"
# and a trailing ":" or "*"); our export's own headers are among them.
_ALIASES = {
    EMAIL: (
        "email",
        "e-mail",
        "mail",
        "email address",
        "e-mail address",
        "почта",
        "эл. почта",
        "электронная почта",
        "адрес электронной почты",
        "адрес почты",
        "емейл",
        "имейл",
        "емэйл",
    ),
    FULL_NAME: (
        "full_name",
        "full name",
        "name",
        "fio",
        "contact",
        "фио",
        "имя",
        "полное имя",
        "имя и фамилия",
        "фамилия имя",
        "фамилия имя отчество",
        "контакт",
    ),
    COMMENT: (
        "comment",
        "comments",
        "note",
        "notes",
        "комментарий",
        "комментарии",
        "примечание",
        "примечания",
        "заметка",
        "заметки",
    ),
}

# An attribute's name, as placeholders use it ({{ attr.city }}): letters (any
# alphabet), digits and "_", starting with a letter.
ATTRIBUTE_NAME = re.compile(r"[^\W\d_]\w{0,49}")
DELIMITERS = {",": ",", ";": ";", "tab": "\t"}
ENCODINGS = ("utf-8", "utf-8-sig", "cp1251")
# Enough of a file to tell its delimiter (and what the preview shows of it).
SNIFF_LINES = 50

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


# --- columns ---------------------------------------------------------------------


def header_key(value: str) -> str:
    key = re.sub(r"[\s_\-]+", "", value.lower().replace("ё", "е"))
    return key.rstrip(":*")


COLUMNS = {
    header_key(alias): field for field, names in _ALIASES.items() for alias in names
}


def attribute_name(header: str) -> str:
    """The attribute a column of that header fills: lower case, "_" for spaces."""
    name = re.sub(r"[\W]+", "_", header.strip().lower()).strip("_")
    return name[:50]


def column_field(header: str) -> str:
    """Where a column goes by default: a field, an attribute or nowhere."""
    if field := COLUMNS.get(header_key(header)):
        return field
    name = attribute_name(header)
    return ATTR_PREFIX + name if ATTRIBUTE_NAME.fullmatch(name) else IGNORE


def default_mapping(headers: Iterable[str]) -> list[str]:
    """Each column's field from its header; a field or attribute two columns
    would fill goes to the first of them (the other is ignored)."""
    mapping: list[str] = []
    for header in headers:
        target = column_field(header)
        mapping.append(IGNORE if target in mapping else target)
    return mapping


def mapping_problem(mapping: Iterable[str]) -> str | None:
    """Why a mapping cannot be imported, or None: one e-mail column, each field
    and attribute filled by one column at most, attribute names usable."""
    targets = [target for target in mapping if target != IGNORE]
    if EMAIL not in targets:
        return gettext("Choose the column that holds the e-mail addresses.")
    for target in targets:
        if targets.count(target) > 1:
            shown = target.removeprefix(ATTR_PREFIX)
            return gettext("Two columns go to “%(field)s”: keep one.") % {
                "field": shown
            }
        if target.startswith(ATTR_PREFIX) and not ATTRIBUTE_NAME.fullmatch(
            target.removeprefix(ATTR_PREFIX)
        ):
            return gettext(
                "“%(name)s” cannot name an attribute: use letters, digits and “_”, "
                "starting with a letter (at most 50)."
            ) % {"name": target.removeprefix(ATTR_PREFIX)}
        if not target.startswith(ATTR_PREFIX) and target not in FIELDS:
            return gettext("Unknown field “%(field)s”.") % {"field": target}
    return None


@dataclass(frozen=True)
class ReadOptions:
    """How a file is read: its text encoding and delimiter (CSV only), and where
    each column goes (``None``: from the headers, ``column_field``)."""

    encoding: str = "utf-8"
    delimiter: str = ","
    mapping: tuple[str, ...] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "mapping": None if self.mapping is None else list(self.mapping),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ReadOptions | None:
        if not data:
            return None
        mapping = data.get("mapping")
        return cls(
            encoding=data.get("encoding") or "utf-8",
            delimiter=data.get("delimiter") or ",",
            mapping=None if mapping is None else tuple(mapping),
        )


# --- reading files -----------------------------------------------------------------


def _mapped(header: Iterable[Any], options: ReadOptions | None) -> list[str]:
    headers = [cell_text(h).strip() for h in header]
    if options is None or options.mapping is None:
        names = default_mapping(headers)
        if EMAIL not in names:
            raise ImportFileError(
                gettext("The file needs an “email” column in its first row.")
            )
        return names
    names = list(options.mapping)[: len(headers)]
    names += [IGNORE] * (len(headers) - len(names))
    if problem := mapping_problem(names):
        raise ImportFileError(problem)
    return names


def _too_many_rows(limits: ImportLimits) -> ImportFileError:
    return ImportFileError(
        gettext("The file has more than %(max)s rows: split it into smaller files.")
        % {"max": number_text(limits.max_rows)}
    )


def _rows(
    names: list[str], records: Iterator[Iterable[Any]], limits: ImportLimits
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, row) pairs: a row holds the fields its columns map to, and under
    "attributes" a dict of the attribute columns."""
    count = 0
    attributes = [
        (index, name.removeprefix(ATTR_PREFIX))
        for index, name in enumerate(names)
        if name.startswith(ATTR_PREFIX)
    ]
    fields = [(index, name) for index, name in enumerate(names) if name in FIELDS]
    for line, record in enumerate(records, start=2):
        values = list(record)
        if not any(cell_text(v).strip() for v in values):
            # Blank lines (spreadsheets often end with some) are skipped, but
            # still counted so that later rows keep their line numbers.
            continue
        count += 1
        if count > limits.max_rows:
            raise _too_many_rows(limits)
        row: dict[str, Any] = {
            name: values[index] for index, name in fields if index < len(values)
        }
        if attributes:
            row["attributes"] = {
                name: values[index] for index, name in attributes if index < len(values)
            }
        yield line, row


def _decodes(file: IO[bytes], encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    file.seek(0)
    try:
        for chunk in iter(lambda: file.read(2**20), b""):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    finally:
        file.seek(0)
    return True


def detect_encoding(file: IO[bytes]) -> str:
    """UTF-8 when the whole file decodes strictly as UTF-8 ("utf-8-sig" with a
    BOM), else Windows-1251; neither is refused."""
    file.seek(0)
    bom = file.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8
    if _decodes(file, "utf-8"):
        return "utf-8-sig" if bom else "utf-8"
    if _decodes(file, "cp1251"):
        return "cp1251"
    raise ImportFileError(gettext("The file is neither UTF-8 nor Windows-1251 text."))


def detect_delimiter(lines: list[str]) -> str:
    """The delimiter that splits the first lines into the same number of cells
    (more than one), the most of them on a tie; "," when nothing splits."""
    best, best_score = ",", (0, 0)
    for delimiter in (",", ";", "\t"):
        try:
            counts = [len(r) for r in csv.reader(lines, delimiter=delimiter) if r]
        except csv.Error:
            continue
        if not counts or counts[0] < 2:
            continue
        agreeing = sum(1 for count in counts if count == counts[0])
        score = (agreeing, counts[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def sniff_csv(file: IO[bytes]) -> ReadOptions:
    """The encoding and delimiter of a CSV (columns mapped from the headers)."""
    encoding = detect_encoding(file)
    text = io.TextIOWrapper(file, encoding=encoding, newline="")
    try:
        lines = list(itertools.islice(text, SNIFF_LINES))
    finally:
        text.detach()
        file.seek(0)
    return ReadOptions(encoding=encoding, delimiter=detect_delimiter(lines))


@contextmanager
def _csv_records(
    file: IO[bytes], options: ReadOptions
) -> Iterator[Iterator[list[str]]]:
    """The raw records of a CSV (header first), as ``options`` read it."""
    encoding = options.encoding
    if encoding == "utf-8":
        encoding = "utf-8-sig"  # a BOM is never part of the first header
    text = io.TextIOWrapper(file, encoding=encoding, newline="")
    try:
        yield csv.reader(text, delimiter=options.delimiter)
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            gettext("The file is not %(encoding)s text.")
            % {"encoding": ENCODING_NAMES.get(options.encoding, options.encoding)}
        ) from exc
    except csv.Error as exc:
        raise ImportFileError(
            gettext("The file is not valid CSV: %(error)s") % {"error": exc}
        ) from exc
    finally:
        text.detach()


def read_csv(
    file: IO[bytes],
    limits: ImportLimits | None = None,
    options: ReadOptions | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, row) of a CSV, streamed; without options, its encoding and
    delimiter are detected and its columns mapped from the headers."""
    limits = limits or ImportLimits.from_settings()
    if options is None:
        options = sniff_csv(file)
    with _csv_records(file, options) as reader:
        header = next(reader, None)
        if header is None:
            raise ImportFileError(gettext("The file is empty."))
        yield from _rows(_mapped(header, options), reader, limits)


ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 (BOM)",
    "cp1251": "Windows-1251",
}


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
    file: IO[bytes],
    limits: ImportLimits | None = None,
    options: ReadOptions | None = None,
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
        yield from _rows(_mapped(header, options), records, limits)
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
    an XLSX whose parts unpack too far, and a CSV's encoding and number of rows
    (reading a CSV of the largest allowed size takes a moment; an XLSX workbook's
    rows are counted by the task). Which column holds the e-mail is the preview's
    question."""
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
        options = sniff_csv(file)
        with _csv_records(file, options) as reader:
            if next(reader, None) is None:
                raise ImportFileError(gettext("The file is empty."))
            count = 0
            for record in reader:
                if any(cell.strip() for cell in record):
                    count += 1
                    if count > limits.max_rows:
                        raise _too_many_rows(limits)
    finally:
        file.seek(0)


@dataclass(frozen=True)
class TableHead:
    """The start of a file as the preview shows it: the options it was read
    with (detected, or the person's), its headers and first rows as text."""

    options: ReadOptions
    headers: list[str]
    rows: list[list[str]]


def read_head(
    file: IO[bytes],
    *,
    file_format: str,
    options: ReadOptions | None,
    limits: ImportLimits,
    count: int = 5,
) -> TableHead:
    """The headers and first ``count`` non-blank rows of a file, with the options
    that read it: for a CSV without options, the detected ones; the mapping is the
    given one (fitted to the number of columns) or the headers' defaults."""
    records: list[list[str]] = []
    if file_format == ClientImport.Format.XLSX:
        import openpyxl

        check_xlsx_archive(file, limits)
        try:
            workbook = openpyxl.load_workbook(file, read_only=True, data_only=True)
        except _XLSX_ERRORS as exc:
            raise _not_xlsx() from exc
        try:
            for record in workbook.active.iter_rows(values_only=True):
                cells = [cell_text(value) for value in record]
                if records and not any(cell.strip() for cell in cells):
                    continue
                records.append(cells)
                if len(records) > count:
                    break
        except _XLSX_ERRORS as exc:
            raise _not_xlsx() from exc
        finally:
            workbook.close()
            file.seek(0)
        options = options or ReadOptions()
    else:
        options = options or sniff_csv(file)
        try:
            with _csv_records(file, options) as reader:
                for record in reader:
                    if records and not any(cell.strip() for cell in record):
                        continue
                    records.append([spreadsheet_unescape(cell) for cell in record])
                    if len(records) > count:
                        break
        finally:
            file.seek(0)
    if not records:
        raise ImportFileError(gettext("The file is empty."))
    headers = [cell.strip() for cell in records[0]]
    # Trailing empty headers with nothing under them are no columns.
    width = max(len(record) for record in records)
    headers += [""] * (width - len(headers))
    mapping = default_mapping(headers)
    if options.mapping is not None:
        mapping = list(options.mapping)[:width]
        mapping += [IGNORE] * (width - len(mapping))
    rows = [record + [""] * (width - len(record)) for record in records[1:]]
    return TableHead(
        options=ReadOptions(
            encoding=options.encoding,
            delimiter=options.delimiter,
            mapping=tuple(mapping),
        ),
        headers=headers,
        rows=rows,
    )
