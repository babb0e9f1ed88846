"""When a mailing runs next (SPEC §6).

The period is added to the *scheduled* time, not to the moment a run happened, so
schedules never drift. Arithmetic is done on the wall clock of ``TIME_ZONE`` so a daily
09:00 mailing stays at 09:00 across daylight-saving changes. Monthly schedules keep the
day of ``start_at`` when the month has it and clamp to the month's last day otherwise
(31 Jan → 29 Feb → 31 Mar). Missed periods are not replayed: after downtime the next
run is the first scheduled time still in the future.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

from django.utils import timezone

from apps.mailings.models import Mailing

Periodicity = Mailing.Periodicity


def _add_months(local: datetime, months: int, anchor_day: int) -> datetime:
    month_index = local.month - 1 + months
    year, month = local.year + month_index // 12, month_index % 12 + 1
    day = min(anchor_day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day)


def add_period(when: datetime, periodicity: str, *, anchor_day: int) -> datetime:
    """`when` plus one period, on the wall clock of the current time zone."""
    tz = timezone.get_current_timezone()
    local = timezone.localtime(when, tz).replace(tzinfo=None)
    if periodicity == Periodicity.DAILY:
        local += timedelta(days=1)
    elif periodicity == Periodicity.WEEKLY:
        local += timedelta(days=7)
    elif periodicity == Periodicity.MONTHLY:
        local = _add_months(local, 1, anchor_day)
    else:
        raise ValueError(f"{periodicity!r} has no period")
    return timezone.make_aware(local, tz)


def next_run_after(
    *,
    periodicity: str,
    start_at: datetime,
    end_at: datetime,
    scheduled: datetime,
    now: datetime | None = None,
) -> datetime | None:
    """The run after the one scheduled at `scheduled`, or None when the mailing is done.

    Periods missed while nothing ran are skipped, not replayed one by one.
    """
    if periodicity == Periodicity.ONCE:
        return None
    now = now or timezone.now()
    anchor_day = timezone.localtime(start_at).day
    following = add_period(scheduled, periodicity, anchor_day=anchor_day)
    while following <= now:
        following = add_period(following, periodicity, anchor_day=anchor_day)
    if following >= end_at:
        return None
    return following
