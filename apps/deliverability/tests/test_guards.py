"""Guards no other test would miss if they broke (hand-made mutations, see
docs/guards.md): the open pixel's token is signed like the click's, and a click
goes only to the message's own link whatever the address carries besides."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.deliverability import tracking
from apps.mailings.models import Attempt, Delivery
from tests.factories import MailingFactory

pytestmark = pytest.mark.django_db

LINKS = ["https://shop.example/sale", "https://shop.example/new"]


@pytest.fixture(autouse=True)
def _fresh_buffer(settings):
    settings.REDIS_URL = ""
    settings.SITE_URL = "https://mailshot.example"
    tracking.reset_buffer()
    yield
    tracking.reset_buffer()


@pytest.fixture
def delivery(alice):
    attempt = Attempt.objects.create(
        mailing=MailingFactory(owner=alice), attempted_at=timezone.now(), links=LINKS
    )
    return Delivery.objects.create(
        attempt=attempt, email="r@example.org", outcome=Delivery.Outcome.SENT
    )


def test_an_open_token_with_a_made_up_signature_or_delivery_is_404(client, delivery):
    good = tracking.open_token(delivery.attempt_id, delivery.pk)
    attempt, row, mac = good.split(".")
    forged = [
        f"{attempt}.{row}.{'0' * len(mac)}",
        f"{attempt}.{int(row, 16) + 1:x}.{mac}",
    ]

    assert client.get(f"/t/o/{good}.gif").status_code == 200
    for token in forged:
        assert client.get(f"/t/o/{token}.gif").status_code == 404, token
    assert tracking.flush() == 1  # the genuine open only


@pytest.mark.parametrize("name", ["url", "next", "u", "to", "redirect", "r"])
def test_a_click_goes_to_the_messages_link_whatever_else_the_address_says(
    client, delivery, name
):
    token = tracking.click_token(delivery.attempt_id, delivery.pk, 0)

    response = client.get(f"/t/c/{token}/", {name: "https://evil.example/"})

    assert response.status_code == 302
    assert response["Location"] == LINKS[0]
