"""A tracked HTML mailing end to end: sent over real SMTP, its pixel and a link
fetched from the received message, the report moving."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.deliverability import stats, tracking
from apps.deliverability.engagement import MACHINE_SECONDS
from apps.mailings import sending
from apps.mailings.models import Attempt, Delivery
from tests.factories import ClientFactory, MailingFactory, MessageFactory

pytestmark = pytest.mark.django_db

HTML = (
    '<p>Hello {{ first_name }}, see <a href="https://shop.example/sale">the sale</a> '
    'and <a href="https://shop.example/new">what is new</a>.</p>'
)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.SITE_URL = "https://mailshot.example"
    settings.EMAIL_TIMEOUT = 5
    settings.REDIS_URL = ""
    tracking.reset_buffer()
    yield
    tracking.reset_buffer()


def send(alice, *, track: bool | None = None):
    clients = [
        ClientFactory.create(owner=alice, email=f"r{i}@example.org") for i in range(2)
    ]
    now = timezone.now()
    mailing = MailingFactory.create(
        owner=alice,
        message=MessageFactory(owner=alice, subject="News", body="", body_html=HTML),
        start_at=now - timedelta(minutes=1),
        end_at=now + timedelta(days=1),
        track_opens=track,
        track_clicks=track,
    )
    mailing.clients.set(clients)
    sending.run_mailing_now(mailing.pk)
    return mailing


def html_of(received) -> str:
    part = received.message.get_body(preferencelist=("html",))
    return part.get_content()


def test_a_tracked_mailing_carries_each_readers_own_pixel_and_links(
    alice, smtp_sink, client
):
    mailing = send(alice)
    attempt = Attempt.objects.get(mailing=mailing)
    assert attempt.links == ["https://shop.example/sale", "https://shop.example/new"]

    pages = {m.envelope_to[0]: html_of(m) for m in smtp_sink.messages}
    delivery = Delivery.objects.get(email="r0@example.org")
    html = pages["r0@example.org"]
    pixel = re.search(r'src="https://mailshot\.example(/t/o/[^"]+\.gif)"', html).group(
        1
    )
    clicks = re.findall(r'href="https://mailshot\.example(/t/c/[^"]+/)"', html)
    assert pixel == f"/t/o/{tracking.open_token(attempt.pk, delivery.pk)}.gif"
    assert len(clicks) == 2
    assert "unsubscribe" in pages["r1@example.org"]  # the footer's link is left alone
    assert pages["r0@example.org"] != pages["r1@example.org"]
    # The reader opens it a minute later (not a proxy fetching at delivery).
    Delivery.objects.filter(pk=delivery.pk).update(
        processed_at=timezone.now() - timedelta(seconds=MACHINE_SECONDS * 6)
    )

    assert client.get(pixel, HTTP_USER_AGENT=BROWSER).status_code == 200
    response = client.get(clicks[1], HTTP_USER_AGENT=BROWSER)
    assert response.status_code == 302
    assert response["Location"] == "https://shop.example/new"
    tracking.flush()

    report = stats.report(Delivery.objects.filter(attempt__mailing=mailing))
    assert (report.sent, report.unique_opens, report.unique_clicks) == (2, 1, 1)
    assert [link.url for link in report.links] == ["https://shop.example/new"]


def test_a_mailing_that_does_not_track_has_no_pixel_and_its_own_links(alice, smtp_sink):
    send(alice, track=False)

    html = html_of(smtp_sink.messages[0])
    assert "/t/o/" not in html and "/t/c/" not in html
    assert 'href="https://shop.example/sale"' in html


def test_the_site_default_switches_tracking_off(alice, smtp_sink, settings):
    settings.MAILSHOT_TRACKING = False

    send(alice)

    assert "/t/" not in html_of(smtp_sink.messages[0])


def test_the_mailing_form_offers_tracking_with_the_site_default_named(
    login, alice, settings
):
    settings.MAILSHOT_TRACKING = False

    page = login(alice).get("/admin/mailings/mailing/add/").content.decode()

    assert 'name="track_opens"' in page and 'name="track_clicks"' in page
    assert "Site default (off)" in page
