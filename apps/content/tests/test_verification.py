"""A sender address is verified by a single-use, expiring link mailed to it; only its
owner can use the link, and a bad one gets a friendly page."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core import signing
from django.test import Client as HttpClient

from apps.content import verification
from apps.content.models import SenderIdentity

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/content/senderidentity/add/"
LINK = re.compile(r"https?://[^\s\"<>]+/senders/verify/[^\s\"<>]+/")


@pytest.fixture
def site(settings, smtp_sink):
    settings.SITE_URL = "https://mailshot.example"
    settings.MAILSHOT_CONFIRMATION_MAX_AGE_DAYS = 3
    return smtp_sink


def add_sender(http, committing, address="news@shop.example", **fields):
    data = {"from_name": "Alice's Shop", "from_email": address, "reply_to": ""}
    data.update(fields)
    return committing(http.post, ADD_URL, data)


def link_in(message) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    found = LINK.search(text)
    assert found, text
    return found.group(0).replace("https://mailshot.example", "")


def test_adding_a_sender_mails_a_link_to_that_address_only(
    alice, login, committing, site
):
    response = add_sender(login(alice), committing)

    assert response.status_code == 302
    identity = SenderIdentity.objects.get()
    assert identity.owner == alice and identity.verified_at is None
    [received] = site.messages
    assert received.envelope_to == ["news@shop.example"]
    html = received.message.get_body(preferencelist=("html",)).get_content()
    assert '<html lang="en">' in html
    assert "alice@example.com" in html  # who asks to send from it
    assert link_in(received.message).startswith("/senders/verify/")


def test_the_owner_opens_the_link_presses_the_button_and_the_address_is_verified(
    alice, login, committing, site
):
    http = login(alice)
    add_sender(http, committing)
    url = link_in(site.messages[0].message)

    page = http.get(url)
    assert page.status_code == 200
    assert b"news@shop.example" in page.content and b'method="post"' in page.content
    assert SenderIdentity.objects.get().verified_at is None  # GET changes nothing

    response = http.post(url)

    assert response.status_code == 302
    assert response["Location"] == "/admin/content/senderidentity/"
    assert SenderIdentity.objects.get().verified_at is not None


def test_a_used_link_cannot_be_used_again(alice, login, committing, site):
    http = login(alice)
    add_sender(http, committing)
    url = link_in(site.messages[0].message)
    http.post(url)
    verified_at = SenderIdentity.objects.get().verified_at

    again = http.post(url)

    assert again.status_code == 400
    assert b'data-problem="used"' in again.content
    assert SenderIdentity.objects.get().verified_at == verified_at


def test_a_second_link_dies_when_the_first_is_used(alice, login, make_identity, site):
    identity = make_identity(alice, "news@shop.example", verified=False)
    first, second = (verification.make_token(identity) for _ in range(2))
    http = login(alice)
    http.post(f"/senders/verify/{first}/")

    response = http.post(f"/senders/verify/{second}/")

    assert response.status_code == 400
    assert b'data-problem="used"' in response.content


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
        lambda token: "9" + token,
        lambda token: token.split(":", 1)[1],
        lambda token: "not-a-token",
        # Signed by the site, but for something else (another salt).
        lambda token: signing.TimestampSigner().sign(token.split(":")[0]),
    ],
    ids=["signature", "identity", "value-cut", "garbage", "other-salt"],
)
def test_a_tampered_link_gets_a_friendly_page_and_verifies_nothing(
    alice, login, make_identity, tamper
):
    identity = make_identity(alice, "news@shop.example", verified=False)
    url = f"/senders/verify/{tamper(verification.make_token(identity))}/"

    for response in (login(alice).get(url), login(alice).post(url)):
        assert response.status_code == 400
        assert b'data-problem="invalid"' in response.content
    assert SenderIdentity.objects.get().verified_at is None


def test_an_expired_link_says_so_and_verifies_nothing(alice, login, make_identity):
    start = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        identity = make_identity(alice, "news@shop.example", verified=False)
        token = verification.make_token(identity)
    with time_machine.travel(start + dt.timedelta(days=3, seconds=1), tick=False):
        response = login(alice).post(f"/senders/verify/{token}/")

    assert response.status_code == 400
    assert b'data-problem="expired"' in response.content
    assert SenderIdentity.objects.get().verified_at is None


def test_a_link_still_works_just_before_it_expires(alice, login, make_identity):
    start = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        identity = make_identity(alice, "news@shop.example", verified=False)
        token = verification.make_token(identity)
    with time_machine.travel(start + dt.timedelta(days=3, seconds=-1), tick=False):
        response = login(alice).post(f"/senders/verify/{token}/")

    assert response.status_code == 302


def test_changing_the_address_kills_its_links_and_unverifies_it(
    alice, login, committing, make_identity, site
):
    identity = make_identity(alice, "news@shop.example", verified=True)
    old_token = verification.make_token(identity)
    http = login(alice)

    response = committing(
        http.post,
        f"/admin/content/senderidentity/{identity.pk}/change/",
        {"from_name": "Alice", "from_email": "other@shop.example", "reply_to": ""},
    )

    assert response.status_code == 302
    identity.refresh_from_db()
    assert identity.from_email == "other@shop.example" and identity.verified_at is None
    assert [m.envelope_to for m in site.messages] == [["other@shop.example"]]
    stale = http.post(f"/senders/verify/{old_token}/")
    assert stale.status_code == 400
    identity.refresh_from_db()
    assert identity.verified_at is None


def test_changing_only_the_name_keeps_the_address_verified(
    alice, login, committing, make_identity, site
):
    identity = make_identity(alice, "news@shop.example", verified=True)

    committing(
        login(alice).post,
        f"/admin/content/senderidentity/{identity.pk}/change/",
        {"from_name": "New name", "from_email": "news@shop.example", "reply_to": ""},
    )

    identity.refresh_from_db()
    assert identity.verified_at is not None and identity.from_name == "New name"
    assert site.messages == []


def test_another_account_cannot_use_the_link(alice, bob, login, make_identity):
    identity = make_identity(alice, "news@shop.example", verified=False)
    url = f"/senders/verify/{verification.make_token(identity)}/"

    for response in (login(bob).get(url), login(bob).post(url)):
        assert response.status_code == 403
        assert b'data-problem="other_account"' in response.content
        assert b"news@shop.example" not in response.content
    assert SenderIdentity.objects.get().verified_at is None


def test_a_manager_cannot_verify_someone_elses_address(
    alice, manager, login, make_identity
):
    identity = make_identity(alice, "news@shop.example", verified=False)
    url = f"/senders/verify/{verification.make_token(identity)}/"

    assert login(manager).post(url).status_code == 403
    assert SenderIdentity.objects.get().verified_at is None


def test_a_visitor_without_a_session_is_asked_to_log_in_first(alice, make_identity):
    identity = make_identity(alice, "news@shop.example", verified=False)
    url = f"/senders/verify/{verification.make_token(identity)}/"

    response = HttpClient().get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/senders/verify/")
    assert HttpClient().post(url).status_code == 302
    assert SenderIdentity.objects.get().verified_at is None


def test_a_link_for_a_deleted_identity_is_invalid(alice, login, make_identity):
    identity = make_identity(alice, "news@shop.example", verified=False)
    token = verification.make_token(identity)
    identity.delete()

    response = login(alice).get(f"/senders/verify/{token}/")

    assert response.status_code == 400
    assert b'data-problem="invalid"' in response.content


def test_two_clicks_at_once_verify_once(alice, make_identity):
    identity = make_identity(alice, "news@shop.example", verified=False)
    stale_copy = SenderIdentity.objects.get(pk=identity.pk)

    assert verification.identity_verify(identity=identity) is True
    assert verification.identity_verify(identity=stale_copy) is False


def test_the_verification_mail_speaks_the_language_of_whoever_added_the_sender(
    alice, make_identity, site
):
    identity = make_identity(alice, "news@shop.example", verified=False)

    verification.send_verification_email(identity.pk, "ru")

    [received] = site.messages
    html = received.message.get_body(preferencelist=("html",)).get_content()
    assert '<html lang="ru">' in html


def test_no_mail_goes_to_an_address_verified_or_deleted_meanwhile(
    alice, make_identity, site
):
    verified = make_identity(alice, "done@shop.example", verified=True)
    gone = make_identity(alice, "gone@shop.example", verified=False)
    gone_pk = gone.pk
    gone.delete()

    verification.send_verification_email(verified.pk)
    verification.send_verification_email(gone_pk)

    assert site.messages == []


def test_an_address_gets_at_most_one_link_a_minute(
    alice, login, committing, make_identity, site
):
    identity = make_identity(alice, "news@shop.example", verified=False)
    http = login(alice)
    url = f"/admin/content/senderidentity/{identity.pk}/resend-verification/"
    start = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)

    with time_machine.travel(start, tick=False):
        committing(http.post, url, {"post": "yes"})
        committing(http.post, url, {"post": "yes"})
    assert len(site.messages) == 1
    with time_machine.travel(start + dt.timedelta(seconds=61), tick=False):
        committing(http.post, url, {"post": "yes"})
    assert len(site.messages) == 2


def test_a_corrected_address_gets_its_link_at_once(alice, login, committing, site):
    http = login(alice)
    add_sender(http, committing, "typo@shop.exmaple")
    identity = SenderIdentity.objects.get()

    committing(
        http.post,
        f"/admin/content/senderidentity/{identity.pk}/change/",
        {"from_name": "Alice", "from_email": "news@shop.example", "reply_to": ""},
    )

    assert [m.envelope_to for m in site.messages] == [
        ["typo@shop.exmaple"],
        ["news@shop.example"],
    ]
