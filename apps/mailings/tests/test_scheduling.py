"""When mailings run: next_run_at after each run, missed periods skipped, dates
kept between 2000 and 2099, and mailings starting by themselves (time-machine)."""

import calendar
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_q.models import Schedule

from apps.mailings import scheduling, sending, tasks
from apps.mailings.models import Attempt, Mailing
from apps.mailings.scheduling import next_run_after
from tests.factories import ClientFactory, MailingFactory, MessageFactory

UTC = ZoneInfo("UTC")
P = Mailing.Periodicity


def at(*args, tz=UTC):
    return datetime(*args, tzinfo=tz)


def following(periodicity, scheduled, *, start=None, end=None, now=None):
    return next_run_after(
        periodicity=periodicity,
        start_at=start or scheduled,
        end_at=end or at(2099, 1, 1),
        scheduled=scheduled,
        now=now or scheduled,
    )


def test_daily_adds_one_day_to_the_scheduled_time_not_to_the_run_time():
    assert following(P.DAILY, at(2027, 5, 1, 9, 0)) == at(2027, 5, 2, 9, 0)
    # A run that happened late does not push the schedule.
    late = following(P.DAILY, at(2027, 5, 1, 9, 0), now=at(2027, 5, 1, 9, 40))
    assert late == at(2027, 5, 2, 9, 0)


def test_weekly_adds_seven_days():
    assert following(P.WEEKLY, at(2027, 5, 1, 9, 0)) == at(2027, 5, 8, 9, 0)


def test_monthly_from_the_31st_clamps_to_february_and_keeps_the_31st_after():
    start = at(2028, 1, 31, 10, 0)
    feb = following(P.MONTHLY, start, start=start)
    mar = following(P.MONTHLY, feb, start=start)
    apr = following(P.MONTHLY, mar, start=start)
    assert (feb, mar, apr) == (
        at(2028, 2, 29, 10, 0),
        at(2028, 3, 31, 10, 0),
        at(2028, 4, 30, 10, 0),
    )


def test_monthly_in_a_common_year_clamps_to_the_28th():
    start = at(2027, 1, 31, 10, 0)
    assert following(P.MONTHLY, start, start=start) == at(2027, 2, 28, 10, 0)


def test_daily_keeps_the_local_hour_across_daylight_saving(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    berlin = ZoneInfo("Europe/Berlin")
    timezone.activate(berlin)
    try:
        before = at(2027, 3, 27, 9, 0, tz=berlin)  # CET, UTC+1
        after = following(P.DAILY, before)
        assert after == at(2027, 3, 28, 9, 0, tz=berlin)  # CEST, UTC+2
        assert (
            after.astimezone(UTC) - before.astimezone(UTC)
        ).total_seconds() == 23 * 3600
    finally:
        timezone.deactivate()


def test_after_a_three_day_outage_the_missed_runs_are_not_replayed():
    scheduled = at(2027, 5, 1, 9, 0)
    now = at(2027, 5, 4, 12, 0)
    assert following(P.DAILY, scheduled, now=now) == at(2027, 5, 5, 9, 0)


def test_centuries_of_missed_periods_are_skipped_by_arithmetic_not_one_by_one():
    now = at(2026, 11, 30, 12, 0)
    began = time.perf_counter()
    daily = following(P.DAILY, at(1, 1, 1, 9, 0), now=now, end=at(9999, 1, 1))
    weekly = following(P.WEEKLY, at(1, 1, 1, 9, 0), now=now, end=at(9999, 1, 1))
    start = at(1, 1, 31, 9, 0)
    monthly = following(P.MONTHLY, start, start=start, now=now, end=at(9999, 1, 1))
    assert time.perf_counter() - began < 1  # one by one, this took ~46 s
    assert daily == at(2026, 12, 1, 9, 0)
    assert weekly > now and weekly - now <= timedelta(days=7)
    assert weekly.weekday() == datetime(1, 1, 1).weekday()
    assert monthly == at(2026, 12, 31, 9, 0)


@pytest.mark.parametrize("periodicity", [P.DAILY, P.WEEKLY, P.MONTHLY])
@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/Sao_Paulo"])
def test_skipping_missed_periods_lands_where_stepping_one_by_one_does(
    periodicity, zone, settings
):
    settings.TIME_ZONE = zone
    tz = ZoneInfo(zone)
    timezone.activate(tz)
    try:
        for start in (at(2019, 1, 31, 2, 30, tz=tz), at(2020, 3, 29, 2, 30, tz=tz)):
            for now in (at(2020, 3, 29, 1, 0, tz=tz), at(2024, 10, 27, 2, 45, tz=tz)):
                assert following(
                    periodicity, start, start=start, now=now
                ) == _one_by_one(periodicity, start, now), (start, now)
    finally:
        timezone.deactivate()


def _one_by_one(periodicity, start, now):
    """The first run after `start` and after `now`, stepped period by period on the
    wall clock (what the engine did before it skipped by arithmetic)."""
    tz = timezone.get_current_timezone()
    wall = timezone.localtime(start, tz).replace(tzinfo=None)
    anchor, months = wall.day, 0
    while True:
        months += 1
        if periodicity == P.MONTHLY:
            index = wall.month - 1 + months
            year, month = wall.year + index // 12, index % 12 + 1
            day = min(anchor, calendar.monthrange(year, month)[1])
            step = wall.replace(year=year, month=month, day=day)
        else:
            step = wall + timedelta(days=months * (1 if periodicity == P.DAILY else 7))
        candidate = timezone.make_aware(step, tz)
        if candidate > now:
            # As an instant: a wall time in a DST gap never equals one in another zone.
            return candidate.astimezone(UTC)


def test_the_run_that_would_reach_end_at_finishes_the_mailing():
    scheduled = at(2027, 5, 1, 9, 0)
    assert following(P.DAILY, scheduled, end=at(2027, 5, 2, 9, 0)) is None
    assert following(P.DAILY, scheduled, end=at(2027, 5, 2, 9, 1)) is not None
    assert following(P.ONCE, scheduled) is None


@pytest.mark.django_db
def test_a_daily_mailing_runs_once_after_an_outage_then_keeps_its_hour(
    make_mailing, sink
):
    with time_machine.travel(at(2027, 5, 1, 8, 0), tick=False):
        mailing = make_mailing(
            1,
            periodicity=P.DAILY,
            start_at=at(2027, 5, 1, 9, 0),
            end_at=at(2027, 6, 1, 9, 0),
        )
        assert mailing.next_run_at == at(2027, 5, 1, 9, 0)
        assert sending.tick().started == []

    with time_machine.travel(at(2027, 5, 4, 12, 0), tick=False):
        sending.tick()
        sending.tick()

    mailing.refresh_from_db()
    assert Attempt.objects.filter(mailing=mailing).count() == 1
    assert mailing.next_run_at == at(2027, 5, 5, 9, 0)
    assert mailing.status == Mailing.Status.RUNNING


@pytest.mark.django_db
def test_a_mailing_finishes_when_its_next_run_would_reach_the_end(make_mailing, sink):
    with time_machine.travel(at(2027, 5, 1, 8, 0), tick=False):
        mailing = make_mailing(
            1,
            periodicity=P.WEEKLY,
            start_at=at(2027, 5, 1, 9, 0),
            end_at=at(2027, 5, 10, 0, 0),
        )
    for day in (1, 8):
        with time_machine.travel(at(2027, 5, day, 9, 0, 5), tick=False):
            sending.tick()
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.FINISHED
    assert mailing.next_run_at is None
    assert Attempt.objects.filter(mailing=mailing).count() == 2
    assert len(sink.messages) == 2


@pytest.mark.django_db
def test_a_mailing_whose_window_closed_unsent_is_finished_by_the_tick(make_mailing):
    with time_machine.travel(at(2027, 5, 1, 8, 0), tick=False):
        mailing = make_mailing(
            1, start_at=at(2027, 5, 1, 9, 0), end_at=at(2027, 5, 1, 10, 0)
        )
    Mailing.objects.filter(pk=mailing.pk).update(is_enabled=False)
    with time_machine.travel(at(2027, 5, 1, 11, 0), tick=False):
        assert sending.tick().finished == 1
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.FINISHED


@pytest.mark.django_db
def test_a_one_off_mailing_missed_in_its_window_never_goes_out_after(
    make_mailing, sink
):
    # Mutation caught: the due check without its `end_at` bound (runs.due).
    with time_machine.travel(at(2027, 5, 1, 8, 0), tick=False):
        mailing = make_mailing(
            1, start_at=at(2027, 5, 1, 9, 0), end_at=at(2027, 5, 1, 10, 0)
        )
    # The cluster was down from 08:30 to 11:00. Back up, its one-off schedule for
    # 09:00 fires late and the minute tick runs.
    with time_machine.travel(at(2027, 5, 1, 11, 0), tick=False):
        assert tasks.run_due_mailing(mailing.pk) == "not due"
        assert sending.tick().started == []

    assert sink.messages == [] and not Attempt.objects.exists()
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.FINISHED


@pytest.mark.django_db
def test_creating_a_mailing_for_later_plans_a_one_off_schedule_at_its_start(
    make_mailing, django_capture_on_commit_callbacks
):
    start = timezone.now() + timezone.timedelta(minutes=5)
    with django_capture_on_commit_callbacks(execute=True):
        mailing = make_mailing(2, start_at=start)

    assert mailing.next_run_at == start
    schedule = Schedule.objects.get(name=scheduling.schedule_name_for(mailing.pk))
    assert schedule.func == "apps.mailings.tasks.run_due_mailing"
    assert schedule.args == repr(mailing.pk)
    assert schedule.schedule_type == Schedule.ONCE
    assert schedule.next_run == start
    assert Attempt.objects.count() == 0


@pytest.mark.django_db
def test_deleting_a_mailing_removes_its_start_schedule(
    make_mailing, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        mailing = make_mailing(1, start_at=timezone.now() + timezone.timedelta(hours=1))
    name = scheduling.schedule_name_for(mailing.pk)
    assert Schedule.objects.filter(name=name).exists()

    mailing.delete()

    assert not Schedule.objects.filter(name=name).exists()


@pytest.mark.django_db
def test_a_future_mailing_waits_then_starts_by_itself_when_its_time_comes(
    make_mailing, sink
):
    start = timezone.now() + timezone.timedelta(minutes=5)
    mailing = make_mailing(2, start_at=start)

    assert sending.tick().started == []
    assert sink.messages == []

    with time_machine.travel(start + timezone.timedelta(seconds=1), tick=False):
        tasks.run_due_mailing(mailing.pk)  # what the one-off schedule calls

    assert len(sink.messages) == 2


@pytest.mark.django_db
def test_the_minute_tick_plans_starts_set_behind_the_save_hooks_back(make_mailing):
    mailing = make_mailing(1, start_at=timezone.now() + timezone.timedelta(days=1))
    soon = timezone.now() + timezone.timedelta(seconds=50)
    Mailing.objects.filter(pk=mailing.pk).update(next_run_at=soon)

    tasks.send_due_mailings()

    schedule = Schedule.objects.get(name=scheduling.schedule_name_for(mailing.pk))
    assert schedule.next_run == soon


@pytest.mark.django_db
def test_the_minute_tick_schedule_exists_after_migrate_and_is_idempotent():
    assert Schedule.objects.filter(name=scheduling.TICK_SCHEDULE_NAME).count() == 1
    scheduling.ensure_tick_schedule()
    scheduling.ensure_tick_schedule()
    schedule = Schedule.objects.get(name=scheduling.TICK_SCHEDULE_NAME)
    assert schedule.func == "apps.mailings.tasks.send_due_mailings"
    assert schedule.schedule_type == Schedule.MINUTES and schedule.minutes == 1
    assert schedule.repeats == -1


def test_the_cluster_never_hands_a_task_out_twice_nor_replays_missed_slots():
    q = settings.Q_CLUSTER
    assert q["timeout"] < q["retry"]
    assert 0 < q["max_attempts"] < 10
    assert q["catch_up"] is False
    assert settings.MAILSHOT_LEASE_SECONDS <= 60


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("start_at", at(1, 1, 1, 9, 0)),
        ("start_at", at(1999, 12, 31, 23, 59)),
        ("start_at", at(2100, 1, 1, 0, 0)),
        ("end_at", at(2100, 1, 1, 0, 0)),
        ("end_at", at(9999, 12, 31, 0, 0)),
    ],
)
def test_a_mailing_starts_and_ends_between_2000_and_2099(alice, field, value):
    mailing = MailingFactory.build(
        owner=alice,
        message=MessageFactory(owner=alice),
        start_at=at(2000, 1, 1, 0, 0),
        end_at=at(2099, 12, 31, 23, 59),
    )
    mailing.full_clean()  # the edges themselves are fine
    setattr(mailing, field, value)

    with pytest.raises(ValidationError) as refused:
        mailing.full_clean()
    assert refused.value.message_dict[field] == ["Choose a date from 2000 to 2099."]


@pytest.mark.django_db
def test_the_mailing_form_refuses_a_start_in_year_1_next_to_the_field(alice, login):
    response = login(alice).post(
        "/admin/mailings/mailing/add/",
        {
            "message": MessageFactory(owner=alice).pk,
            "clients": [ClientFactory(owner=alice).pk],
            "start_at_0": "0001-01-01",
            "start_at_1": "09:00:00",
            "end_at_0": "2030-01-01",
            "end_at_1": "09:00:00",
            "periodicity": "daily",
        },
    )

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors["start_at"] == ["Choose a date from 2000 to 2099."]
    assert not Mailing.objects.exists()
