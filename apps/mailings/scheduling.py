"""When a mailing runs next, and the django-q2 schedules that start its runs.

The period is added to the *scheduled* time, not to the moment a run happened, so
schedules never drift. Arithmetic is done on the wall clock of the owner's time zone
(``User.time_zone``; ``TIME_ZONE`` when none is given) so a daily 09:00 Europe/Berlin
mailing stays at 09:00 Berlin time across daylight-saving changes; the times are
stored in UTC. Monthly schedules keep the
day of ``start_at`` when the month has it and clamp to the month's last day otherwise
(31 Jan → 29 Feb → 31 Mar). Missed periods are not replayed: after downtime the next
run is the first scheduled time still in the future.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from django.utils import timezone
from django_q.models import Schedule

from apps.mailings.locking import retry_when_locked
from apps.mailings.models import Mailing

Periodicity = Mailing.Periodicity


def _add_months(local: datetime, months: int, anchor_day: int) -> datetime:
    month_index = local.month - 1 + months
    year, month = local.year + month_index // 12, month_index % 12 + 1
    day = min(anchor_day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day)


def _add_periods(
    local: datetime, periodicity: str, count: int, *, anchor_day: int
) -> datetime:
    """`count` periods after the wall-clock time `local`."""
    if periodicity == Periodicity.DAILY:
        return local + timedelta(days=count)
    if periodicity == Periodicity.WEEKLY:
        return local + timedelta(weeks=count)
    if periodicity == Periodicity.MONTHLY:
        return _add_months(local, count, anchor_day)
    raise ValueError(f"{periodicity!r} has no period")


def _whole_periods_before(local: datetime, until: datetime, periodicity: str) -> int:
    """A number of periods that takes `local` close to `until` without passing it:
    one short of the estimate, so neither the time of day nor a clamped month day
    can carry it past."""
    if until <= local:
        return 0
    if periodicity == Periodicity.DAILY:
        return max(0, (until - local).days - 1)
    if periodicity == Periodicity.WEEKLY:
        return max(0, (until - local).days // 7 - 1)
    months = (until.year - local.year) * 12 + until.month - local.month
    return max(0, months - 1)


def next_run_after(
    *,
    periodicity: str,
    start_at: datetime,
    end_at: datetime,
    scheduled: datetime,
    now: datetime | None = None,
    tz: tzinfo | str | None = None,
) -> datetime | None:
    """The run after the one scheduled at `scheduled`, or None when the mailing is done.

    Periods missed while nothing ran are skipped, not replayed: the whole periods
    up to `now` are added at once (a mailing that began centuries ago costs no more
    than one that began yesterday), then at most a few single steps find the first
    run after `now`. All of it on the wall clock of `tz` (the owner's zone), so
    09:00 stays 09:00 there. A wall-clock time that does not exist on a day (skipped
    by a spring-forward) becomes the same offset's instant, i.e. an hour later.
    """
    if periodicity == Periodicity.ONCE:
        return None
    now = now or timezone.now()
    tz = _zone(tz)
    start_local = timezone.localtime(start_at, tz)
    anchor_day = start_local.day
    # The day of the scheduled run at the time of day of the start: a run moved by a
    # spring-forward (02:30 → 03:30) does not drag the following ones along.
    wall = datetime.combine(
        timezone.localtime(scheduled, tz).date(),
        start_local.time().replace(tzinfo=None),
    )
    periods = max(
        1,
        _whole_periods_before(
            wall, timezone.localtime(now, tz).replace(tzinfo=None), periodicity
        ),
    )
    while True:
        following = timezone.make_aware(
            _add_periods(wall, periodicity, periods, anchor_day=anchor_day), tz
        ).astimezone(UTC)  # compared and stored as the instant, never as a wall time
        if following > now:
            break
        periods += 1
    if following >= end_at:
        return None
    return following


def _zone(tz: tzinfo | str | None) -> tzinfo:
    if tz is None or tz == "":
        return timezone.get_default_timezone()
    if isinstance(tz, str):
        return ZoneInfo(tz)
    return tz


# --- django-q2 schedules that start runs --------------------------------------------

TICK_SCHEDULE_NAME = "mailshot: send due mailings"


def schedule_name_for(mailing_id: int) -> str:
    return f"mailshot: mailing {mailing_id}"


@retry_when_locked
def schedule_mailing_start(mailing_id: int, when: datetime | None) -> None:
    """A one-off django-q2 schedule at `when`, so the run starts within the scheduler's
    ~30 s poll of its time rather than waiting for the next minute tick."""
    if when is None:
        Schedule.objects.filter(name=schedule_name_for(mailing_id)).delete()
        return
    Schedule.objects.update_or_create(
        name=schedule_name_for(mailing_id),
        defaults={
            "func": "apps.mailings.tasks.run_due_mailing",
            # django-q2 stores schedule args as repr text and reads them back with
            # ast.literal_eval: an id is all it can be trusted with.
            "args": repr(int(mailing_id)),
            "schedule_type": Schedule.ONCE,
            "repeats": -1,
            "next_run": when,
        },
    )


def plan_upcoming_starts(now: datetime | None = None, within: int = 120) -> int:
    """One-off schedules for runs due in the next `within` seconds, so a mailing whose
    `next_run_at` was set without the save service (fixtures, a queryset update, the
    next period of a recurring mailing) still starts within ~30 s of its time."""
    now = now or timezone.now()
    upcoming = (
        Mailing.objects.filter(
            is_enabled=True,
            owner__is_blocked=False,
            next_run_at__gt=now,
            next_run_at__lte=now + timedelta(seconds=within),
        )
        .exclude(status=Mailing.Status.FINISHED)
        .values_list("pk", "next_run_at")
    )
    count = 0
    for mailing_id, when in upcoming:
        schedule_mailing_start(mailing_id, when)
        count += 1
    return count


@retry_when_locked
def ensure_tick_schedule() -> None:
    """The every-minute tick (idempotent): due mailings and expired leases."""
    Schedule.objects.update_or_create(
        name=TICK_SCHEDULE_NAME,
        defaults={
            "func": "apps.mailings.tasks.send_due_mailings",
            "args": None,
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
