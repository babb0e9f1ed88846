"""Opens and clicks: counted for people, flagged for machines (the documented rule)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.deliverability.engagement import MACHINE_SECONDS, Hit, record
from apps.deliverability.models import Engagement
from apps.mailings.models import Attempt, Delivery
from tests.factories import MailingFactory

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"


@pytest.fixture
def delivery(alice):
    attempt = Attempt.objects.create(
        mailing=MailingFactory(owner=alice), attempted_at=timezone.now()
    )
    return Delivery.objects.create(
        attempt=attempt,
        email="r@example.org",
        outcome=Delivery.Outcome.SENT,
        processed_at=timezone.now() - timedelta(hours=1),
    )


def test_opens_and_clicks_of_people_are_counted(delivery):
    t0 = delivery.processed_at + timedelta(minutes=5)

    written = record(
        [
            Hit(delivery.pk, "open", t0, BROWSER),
            Hit(delivery.pk, "open", t0 + timedelta(minutes=1), BROWSER),
            Hit(
                delivery.pk, "click", t0 + timedelta(minutes=2), BROWSER, 0, "https://a"
            ),
        ]
    )

    assert written == 3
    delivery.refresh_from_db()
    assert (delivery.open_count, delivery.click_count) == (2, 1)
    assert delivery.first_opened_at == t0
    assert delivery.first_clicked_at == t0 + timedelta(minutes=2)


def test_a_fetch_within_seconds_of_sending_or_by_a_proxy_is_a_machine(delivery):
    early = delivery.processed_at + timedelta(seconds=MACHINE_SECONDS - 1)
    later = delivery.processed_at + timedelta(minutes=10)

    record(
        [
            Hit(delivery.pk, "open", early, BROWSER),
            Hit(
                delivery.pk,
                "open",
                later,
                "Mozilla/5.0 (via ggpht.com GoogleImageProxy)",
            ),
            Hit(delivery.pk, "click", early, BROWSER, 1, "https://b"),
        ]
    )

    delivery.refresh_from_db()
    assert (delivery.open_count, delivery.click_count) == (0, 0)
    assert delivery.first_opened_at is None
    assert Engagement.objects.filter(is_machine=True).count() == 3


def test_a_click_without_the_pixel_counts_one_open(delivery):
    at = delivery.processed_at + timedelta(minutes=3)

    record([Hit(delivery.pk, "click", at, BROWSER, 0, "https://a")])

    delivery.refresh_from_db()
    assert (delivery.open_count, delivery.click_count) == (1, 1)
    assert delivery.first_opened_at == at


def test_the_first_open_stays_the_earliest(delivery):
    late = delivery.processed_at + timedelta(hours=2)
    early = delivery.processed_at + timedelta(minutes=2)
    record([Hit(delivery.pk, "open", late, BROWSER)])

    record([Hit(delivery.pk, "open", early, BROWSER)])

    delivery.refresh_from_db()
    assert delivery.first_opened_at == early


def test_hits_of_a_deleted_delivery_are_dropped(delivery):
    gone = delivery.pk
    delivery.delete()

    assert record([Hit(gone, "open", timezone.now(), BROWSER)]) == 0


SENT = timedelta(hours=1)  # ago


def _deliveries(alice, count: int, **fields) -> list[Delivery]:
    attempt = Attempt.objects.create(
        mailing=MailingFactory.create(owner=alice), attempted_at=timezone.now()
    )
    sent = timezone.now() - SENT
    return Delivery.objects.bulk_create(
        Delivery(
            attempt=attempt,
            email=f"r{i}@example.org",
            outcome=Delivery.Outcome.SENT,
            processed_at=sent,
            **fields,
        )
        for i in range(count)
    )


def _flush_queries(rows: list[Delivery], events: int) -> int:
    at = timezone.now() - SENT + timedelta(minutes=5)
    hits = [
        Hit(
            rows[i % len(rows)].pk,
            "click" if i % 2 else "open",
            at + timedelta(seconds=i),
            BROWSER,
            0,
            "https://a",
        )
        for i in range(events)
    ]
    with CaptureQueriesContext(connection) as queries:
        assert record(hits) == events
    return len(queries)


def test_a_flush_takes_as_many_statements_for_one_delivery_as_for_many(alice):
    one = _flush_queries(_deliveries(alice, 1), events=120)
    many = _flush_queries(_deliveries(alice, 60), events=120)

    assert many == one
    # The deliveries, the events, the counters (and the transaction around them).
    assert one <= 5


def test_one_flush_updates_every_delivery_as_hit_by_hit(alice):
    fresh, seen, clicks_only, machines, later = _deliveries(alice, 5)
    t = fresh.processed_at + timedelta(minutes=10)
    Delivery.objects.filter(pk=seen.pk).update(
        open_count=3,
        click_count=1,
        first_opened_at=t - timedelta(minutes=5),
        first_clicked_at=t + timedelta(minutes=5),
    )
    Delivery.objects.filter(pk=later.pk).update(
        open_count=2, first_opened_at=t + timedelta(hours=1)
    )
    before = Delivery.objects.get(pk=seen.pk)  # a cached read, to be invalidated
    assert before.open_count == 3

    record(
        [
            Hit(fresh.pk, "open", t + timedelta(minutes=2), BROWSER),
            Hit(fresh.pk, "open", t, BROWSER),
            Hit(seen.pk, "open", t, BROWSER),
            Hit(seen.pk, "click", t + timedelta(minutes=1), BROWSER, 0, "https://a"),
            Hit(clicks_only.pk, "click", t + timedelta(minutes=3), BROWSER, 1, "b"),
            Hit(clicks_only.pk, "click", t + timedelta(minutes=1), BROWSER, 0, "a"),
            Hit(machines.pk, "open", t, "GoogleImageProxy"),
            Hit(machines.pk, "click", machines.processed_at, BROWSER, 0, "a"),
            Hit(later.pk, "click", t, BROWSER, 0, "https://a"),
        ]
    )

    counters = {
        row.pk: (
            row.open_count,
            row.click_count,
            row.first_opened_at,
            row.first_clicked_at,
        )
        for row in Delivery.objects.all()
    }
    assert counters == {
        fresh.pk: (2, 0, t, None),
        # Earlier first open kept; the earlier click replaces the later one.
        seen.pk: (4, 2, t - timedelta(minutes=5), t + timedelta(minutes=1)),
        # A click implies an open: one, for two clicks.
        clicks_only.pk: (1, 2, t + timedelta(minutes=1), t + timedelta(minutes=1)),
        machines.pk: (0, 0, None, None),
        # Opened before: the click counts no open, and is the first open now.
        later.pk: (2, 1, t, t),
    }
    assert Engagement.objects.filter(is_machine=True).count() == 2
    assert Delivery.objects.get(pk=seen.pk).open_count == 4  # not the cached 3
