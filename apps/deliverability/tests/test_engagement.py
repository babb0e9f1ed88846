"""Opens and clicks: counted for people, flagged for machines (the documented rule)."""

from __future__ import annotations

from datetime import timedelta

import pytest
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
