"""Recurring mailings keep their owner's wall-clock time (User.time_zone) across both
daylight-saving switches of Europe/Berlin, and in a zone without DST (Asia/Tokyo);
the server's TIME_ZONE (UTC) plays no part. Times are stored in UTC."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from apps.mailings import sending
from apps.mailings.models import Attempt, Mailing
from apps.mailings.scheduling import next_run_after

UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
TOKYO = ZoneInfo("Asia/Tokyo")
P = Mailing.Periodicity

# 2027: Berlin springs forward on 28 March (02:00 CET → 03:00 CEST) and falls back on
# 31 October (03:00 CEST → 02:00 CET).
SPRING = datetime(2027, 3, 28, 12, tzinfo=BERLIN)
AUTUMN = datetime(2027, 10, 31, 12, tzinfo=BERLIN)


def runs(periodicity, start, count, tz):
    """`count` scheduled runs from `start`, each computed the way the engine does."""
    out = [start]
    while len(out) < count:
        nxt = next_run_after(
            periodicity=periodicity,
            start_at=start,
            end_at=datetime(2099, 1, 1, tzinfo=UTC),
            scheduled=out[-1],
            now=out[-1],
            tz=tz,
        )
        assert nxt is not None
        out.append(nxt)
    return out


def wall(moments, tz):
    return [
        m.astimezone(UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M") for m in moments
    ]


@pytest.mark.parametrize(
    ("periodicity", "start", "expected"),
    [
        (
            P.DAILY,
            datetime(2027, 3, 27, 9, tzinfo=BERLIN),
            ["2027-03-27 09:00", "2027-03-28 09:00", "2027-03-29 09:00"],
        ),
        (
            P.DAILY,
            datetime(2027, 10, 30, 9, tzinfo=BERLIN),
            ["2027-10-30 09:00", "2027-10-31 09:00", "2027-11-01 09:00"],
        ),
        (
            P.WEEKLY,
            datetime(2027, 3, 22, 9, tzinfo=BERLIN),
            ["2027-03-22 09:00", "2027-03-29 09:00", "2027-04-05 09:00"],
        ),
        (
            P.WEEKLY,
            datetime(2027, 10, 25, 9, tzinfo=BERLIN),
            ["2027-10-25 09:00", "2027-11-01 09:00", "2027-11-08 09:00"],
        ),
        (
            P.MONTHLY,
            datetime(2027, 2, 15, 9, tzinfo=BERLIN),
            ["2027-02-15 09:00", "2027-03-15 09:00", "2027-04-15 09:00"],
        ),
        (
            P.MONTHLY,
            datetime(2027, 9, 15, 9, tzinfo=BERLIN),
            ["2027-09-15 09:00", "2027-10-15 09:00", "2027-11-15 09:00"],
        ),
    ],
)
def test_berlin_wall_clock_is_kept_across_both_switches(periodicity, start, expected):
    moments = runs(periodicity, start, 3, "Europe/Berlin")
    assert wall(moments, BERLIN) == expected
    # ... which in UTC means the hour moves: 08:00 UTC in winter, 07:00 in summer.
    offsets = {m.astimezone(BERLIN).utcoffset() for m in moments}
    assert offsets == {timedelta(hours=1), timedelta(hours=2)}


def test_the_server_zone_does_not_matter_only_the_owners(settings):
    settings.TIME_ZONE = "America/New_York"  # switches on other dates than Berlin
    start = datetime(2027, 3, 10, 9, tzinfo=BERLIN)
    moments = runs(P.DAILY, start, 25, BERLIN)
    assert {m.astimezone(BERLIN).strftime("%H:%M") for m in moments} == {"09:00"}


@pytest.mark.parametrize("periodicity", [P.DAILY, P.WEEKLY, P.MONTHLY])
def test_tokyo_has_no_dst_and_runs_at_the_same_utc_hour(periodicity):
    start = datetime(2027, 1, 31, 9, tzinfo=TOKYO)
    moments = runs(periodicity, start, 14, "Asia/Tokyo")
    assert {m.astimezone(TOKYO).strftime("%H:%M") for m in moments} == {"09:00"}
    assert {m.astimezone(UTC).strftime("%H:%M") for m in moments} == {"00:00"}


def test_a_time_skipped_by_spring_forward_runs_an_hour_later_that_day_only():
    start = datetime(2027, 3, 27, 2, 30, tzinfo=BERLIN)
    moments = runs(P.DAILY, start, 3, BERLIN)
    assert wall(moments, BERLIN) == [
        "2027-03-27 02:30",
        "2027-03-28 03:30",  # 02:30 does not exist that night
        "2027-03-29 02:30",
    ]


def test_without_a_zone_the_server_zone_is_used(settings):
    settings.TIME_ZONE = "UTC"
    start = datetime(2027, 3, 27, 9, tzinfo=UTC)
    moments = runs(P.DAILY, start, 2, None)
    assert moments[1] - moments[0] == timedelta(days=1)


# --- the engine, with the clock moved over the switches (time-machine) --------------


@pytest.fixture
def berlin_owner(alice):
    alice.time_zone = "Europe/Berlin"
    alice.save(update_fields=["time_zone"])
    alice.refresh_from_db()
    return alice


def _tick_at(moment):
    with time_machine.travel(moment, tick=False):
        return sending.tick()


def _attempt_walls(mailing, tz):
    return [
        a.attempted_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        for a in Attempt.objects.filter(mailing=mailing).order_by("attempted_at")
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("first_day", "switch"),
    [(datetime(2027, 3, 26), "spring"), (datetime(2027, 10, 29), "autumn")],
)
def test_a_daily_berlin_mailing_goes_out_at_nine_local_over_a_switch(
    make_mailing, berlin_owner, sink, settings, first_day, switch
):
    settings.TIME_ZONE = "UTC"
    start = first_day.replace(hour=9, tzinfo=BERLIN)
    with time_machine.travel(start - timedelta(hours=1), tick=False):
        mailing = make_mailing(
            2,
            owner=berlin_owner,
            periodicity=P.DAILY,
            start_at=start,
            end_at=start + timedelta(days=10),
        )
    for day in range(4):
        local_nine = (first_day + timedelta(days=day)).replace(hour=9, tzinfo=BERLIN)
        # A minute early nothing is due; five seconds after 09:00 local it is.
        assert _tick_at(local_nine - timedelta(minutes=1)).started == []
        assert _tick_at(local_nine + timedelta(seconds=5)).started == [mailing.pk]
        mailing.refresh_from_db()
        assert mailing.next_run_at is not None
        assert mailing.next_run_at.astimezone(BERLIN).strftime("%H:%M") == "09:00"
        assert mailing.next_run_at.utcoffset() == timedelta(0)  # stored in UTC
    assert _attempt_walls(mailing, BERLIN) == [
        (first_day + timedelta(days=d)).strftime("%Y-%m-%d 09:00") for d in range(4)
    ]
    utc_hours = {
        a.attempted_at.astimezone(UTC).hour
        for a in Attempt.objects.filter(mailing=mailing)
    }
    assert utc_hours == {7, 8}, switch
    assert len(sink.messages) == 8


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("periodicity", "start", "later"),
    [
        (
            P.WEEKLY,
            datetime(2027, 3, 24, 9, tzinfo=BERLIN),
            datetime(2027, 3, 31, 9, tzinfo=BERLIN),
        ),
        (
            P.WEEKLY,
            datetime(2027, 10, 27, 9, tzinfo=BERLIN),
            datetime(2027, 11, 3, 9, tzinfo=BERLIN),
        ),
        (
            P.MONTHLY,
            datetime(2027, 3, 15, 9, tzinfo=BERLIN),
            datetime(2027, 4, 15, 9, tzinfo=BERLIN),
        ),
        (
            P.MONTHLY,
            datetime(2027, 10, 15, 9, tzinfo=BERLIN),
            datetime(2027, 11, 15, 9, tzinfo=BERLIN),
        ),
    ],
)
def test_weekly_and_monthly_berlin_mailings_keep_nine_local(
    make_mailing, berlin_owner, sink, periodicity, start, later
):
    with time_machine.travel(start - timedelta(hours=1), tick=False):
        mailing = make_mailing(
            1,
            owner=berlin_owner,
            periodicity=periodicity,
            start_at=start,
            end_at=start + timedelta(days=90),
        )
    _tick_at(start + timedelta(seconds=5))
    mailing.refresh_from_db()
    assert mailing.next_run_at == later
    assert _tick_at(later - timedelta(minutes=1)).started == []
    assert _tick_at(later + timedelta(seconds=5)).started == [mailing.pk]
    assert _attempt_walls(mailing, BERLIN) == [
        start.strftime("%Y-%m-%d 09:00"),
        later.strftime("%Y-%m-%d 09:00"),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("periodicity", [P.DAILY, P.WEEKLY, P.MONTHLY])
def test_a_tokyo_mailing_runs_at_nine_local_all_year(
    make_mailing, alice, sink, periodicity
):
    alice.time_zone = "Asia/Tokyo"
    alice.save(update_fields=["time_zone"])
    alice.refresh_from_db()
    start = datetime(2027, 3, 1, 9, tzinfo=TOKYO)
    with time_machine.travel(start - timedelta(hours=1), tick=False):
        mailing = make_mailing(
            1,
            owner=alice,
            periodicity=periodicity,
            start_at=start,
            end_at=start + timedelta(days=400),
        )
    moment = start
    for _ in range(3):
        assert _tick_at(moment + timedelta(seconds=5)).started == [mailing.pk]
        mailing.refresh_from_db()
        assert mailing.next_run_at is not None
        moment = mailing.next_run_at
        assert moment.astimezone(TOKYO).strftime("%H:%M") == "09:00"
        assert moment.astimezone(UTC).strftime("%H:%M") == "00:00"
    assert len(_attempt_walls(mailing, TOKYO)) == 3
