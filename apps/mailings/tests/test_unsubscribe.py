"""/unsubscribe/<token>/: a page on GET, one-click unsubscribe on POST (RFC 8058)."""

from urllib.parse import urlsplit

import pytest
from django.test import Client as HttpClient

from apps.mailings import sending
from apps.mailings.models import Client
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def recipient(alice):
    return ClientFactory(owner=alice, email="reader@example.org")


def test_get_shows_a_confirmation_page_without_unsubscribing(recipient):
    response = HttpClient().get(f"/unsubscribe/{recipient.unsubscribe_token}/")

    assert response.status_code == 200
    assert b"reader@example.org" in response.content
    assert b'method="post"' in response.content
    recipient.refresh_from_db()
    assert not recipient.is_unsubscribed


def test_a_one_click_post_without_cookies_or_csrf_token_unsubscribes(recipient):
    browserless = HttpClient(enforce_csrf_checks=True)

    response = browserless.post(
        f"/unsubscribe/{recipient.unsubscribe_token}/",
        {"List-Unsubscribe": "One-Click"},
    )

    assert response.status_code == 200
    assert b"You are unsubscribed" in response.content
    recipient.refresh_from_db()
    assert recipient.is_unsubscribed and recipient.unsubscribed_at is not None


def test_unsubscribing_twice_is_harmless_and_keeps_the_first_time(recipient):
    url = f"/unsubscribe/{recipient.unsubscribe_token}/"
    HttpClient().post(url)
    recipient.refresh_from_db()
    first = recipient.unsubscribed_at

    assert HttpClient().post(url).status_code == 200
    recipient.refresh_from_db()
    assert recipient.unsubscribed_at == first


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_unknown_token_is_a_404(recipient, method):
    response = getattr(HttpClient(), method)("/unsubscribe/not-a-real-token/")
    assert response.status_code == 404
    recipient.refresh_from_db()
    assert not recipient.is_unsubscribed


def test_the_page_is_kept_out_of_search_engines(recipient):
    response = HttpClient().get(f"/unsubscribe/{recipient.unsubscribe_token}/")
    assert response["X-Robots-Tag"] == "noindex"


@pytest.mark.smtp
def test_the_link_in_a_sent_message_unsubscribes_and_the_next_run_skips_them(
    make_mailing, sink
):
    mailing = make_mailing(2)
    sending.run_mailing_now(mailing.pk)
    header = sink.messages[0].message["List-Unsubscribe"].strip("<>")
    unsubscribed_email = sink.messages[0].envelope_to[0]

    HttpClient(enforce_csrf_checks=True).post(urlsplit(header).path)

    assert Client.objects.get(email=unsubscribed_email).is_unsubscribed
    sink.clear()
    result = sending.run_mailing_now(mailing.pk)
    assert (result.sent, result.skipped) == (1, 1)
    assert unsubscribed_email not in sink.messages[0].envelope_to
