"""Sender identities, footers and the mailing's sender in the admin: who may see and
do what (owner, another owner, manager, editor, anonymous), and the mailing form
that offers only the owner's verified addresses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cachalot.api import cachalot_disabled
from django.test import Client as HttpClient
from django.utils import timezone

from apps.content import verification
from apps.content.models import FooterText, SenderIdentity
from apps.mailings.admin import MailingForm
from apps.mailings.models import Mailing
from tests.factories import ClientFactory, MessageFactory

pytestmark = pytest.mark.django_db

SENDERS = "/admin/content/senderidentity/"
FOOTERS = "/admin/content/footertext/"
FOOTER = "{{ sender_name }}: {{ unsubscribe_url }}"


@pytest.fixture
def world(alice, make_identity):
    identity = make_identity(alice, "news@shop.example", verified=False)
    footer = FooterText.objects.create(owner=alice, language="ru", text=FOOTER)
    return identity, footer


def as_(persona, request, login) -> HttpClient:
    if persona == "anonymous":
        return HttpClient()
    return login(request.getfixturevalue(persona))


# What each persona gets on each page: the HTTP status (302 = to the login page).
MATRIX = {
    # page: {persona: status}
    "senders list": {
        "alice": 200,
        "bob": 200,
        "manager": 200,
        "editor": 403,
        "anonymous": 302,
    },
    "sender change": {
        "alice": 200,
        "bob": 302,  # the admin's "does not exist" redirect: nothing revealed
        "manager": 200,  # read-only
        "editor": 403,
        "anonymous": 302,
    },
    "sender add": {
        "alice": 200,
        "bob": 200,
        "manager": 403,
        "editor": 403,
        "anonymous": 302,
    },
    "sender resend": {
        "alice": 200,
        "bob": 404,
        "manager": 403,
        "editor": 403,
        "anonymous": 302,
    },
    "sender delete": {
        "alice": 200,
        "bob": 302,
        "manager": 403,
        "editor": 403,
        "anonymous": 302,
    },
    "footer delete": {
        "alice": 200,
        "bob": 302,
        "manager": 403,
        "editor": 403,
        "anonymous": 302,
    },
    "footers list": {
        "alice": 200,
        "bob": 200,
        "manager": 403,
        "editor": 403,
        "anonymous": 302,
    },
    "footer change": {
        "alice": 200,
        "bob": 302,
        "manager": 403,
        "editor": 403,
        "anonymous": 302,
    },
    "footer add": {
        "alice": 200,
        "bob": 200,
        "manager": 403,
        "editor": 403,
        "anonymous": 302,
    },
    "verify link": {
        "alice": 200,
        "bob": 403,
        "manager": 403,
        "editor": 403,
        "anonymous": 302,
    },
}
PERSONAS = ["alice", "bob", "manager", "editor", "anonymous"]


def url_of(page: str, identity: SenderIdentity, footer: FooterText) -> str:
    return {
        "senders list": SENDERS,
        "sender change": f"{SENDERS}{identity.pk}/change/",
        "sender add": f"{SENDERS}add/",
        "sender resend": f"{SENDERS}{identity.pk}/resend-verification/",
        "sender delete": f"{SENDERS}{identity.pk}/delete/",
        "footer delete": f"{FOOTERS}{footer.pk}/delete/",
        "footers list": FOOTERS,
        "footer change": f"{FOOTERS}{footer.pk}/change/",
        "footer add": f"{FOOTERS}add/",
        "verify link": f"/senders/verify/{verification.make_token(identity)}/",
    }[page]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("page", list(MATRIX))
def test_who_may_open_each_sender_and_footer_page(
    world, request, login, manager, editor, bob, page, persona
):
    identity, footer = world

    response = as_(persona, request, login).get(url_of(page, identity, footer))

    assert response.status_code == MATRIX[page][persona], response.content[:300]
    if response.status_code == 302 and persona == "anonymous":
        assert response["Location"].startswith("/admin/login/")
    if persona in ("bob", "editor") and response.status_code == 200:
        assert b"news@shop.example" not in response.content
        assert FOOTER.encode() not in response.content


def test_another_owner_and_a_manager_change_nothing_by_posting(
    world, login, bob, manager
):
    identity, footer = world
    change = f"{SENDERS}{identity.pk}/change/"
    data = {"from_name": "Hijack", "from_email": "evil@x.example", "reply_to": ""}

    for person in (bob, manager):
        login(person).post(change, data)
        login(person).post(
            f"{SENDERS}{identity.pk}/resend-verification/", {"post": "yes"}
        )
        login(person).post(
            f"{FOOTERS}{footer.pk}/change/",
            {"language": "ru", "text": "{{ unsubscribe_url }}"},
        )
        login(person).post(f"{SENDERS}{identity.pk}/delete/", {"post": "yes"})

    identity.refresh_from_db()
    footer.refresh_from_db()
    assert identity.from_email == "news@shop.example" and identity.from_name != "Hijack"
    assert footer.text == FOOTER


def test_the_lists_show_only_the_owners_own_rows(alice, bob, login, make_identity):
    make_identity(alice, "alice@shop.example")
    make_identity(bob, "bob@shop.example")
    FooterText.objects.create(
        owner=bob, language="en", text="Bob {{ unsubscribe_url }}"
    )

    senders_page = login(alice).get(SENDERS).content.decode()
    footers_page = login(alice).get(FOOTERS).content.decode()

    assert (
        "alice@shop.example" in senders_page and "bob@shop.example" not in senders_page
    )
    assert "Bob {{ unsubscribe_url }}" not in footers_page


def test_the_senders_list_costs_a_fixed_number_of_queries(
    alice, login, make_identity, django_assert_max_num_queries
):
    for n in range(30):
        make_identity(alice, f"s{n}@shop.example", verified=n % 2 == 0)
    http = login(alice)

    # Without django-cachalot, which would answer repeated queries from its cache.
    with cachalot_disabled(), django_assert_max_num_queries(6):
        response = http.get(SENDERS)
    assert response.status_code == 200
    with cachalot_disabled(), django_assert_max_num_queries(6):
        assert http.get(FOOTERS).status_code == 200


def test_an_owner_adds_a_footer_and_a_bad_one_is_a_form_error(alice, login):
    http = login(alice)

    bad = http.post(f"{FOOTERS}add/", {"language": "en", "text": "Bye {{ name }}"})
    good = http.post(f"{FOOTERS}add/", {"language": "en", "text": FOOTER})

    assert bad.status_code == 200
    errors = bad.context["adminform"].form.errors["text"]
    assert any("{{ unsubscribe_url }}" in e for e in errors)
    assert good.status_code == 302
    assert FooterText.objects.get(owner=alice, language="en").text == FOOTER


def test_the_same_address_twice_is_a_form_error(alice, login, make_identity):
    make_identity(alice, "news@shop.example")

    response = login(alice).post(
        f"{SENDERS}add/",
        {"from_name": "Again", "from_email": "NEWS@Shop.Example", "reply_to": ""},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["from_email"]


def test_a_name_with_an_encoded_word_is_a_form_error(alice, login):
    response = login(alice).post(
        f"{SENDERS}add/",
        {
            "from_name": "=?utf-8?q?Bank?=",
            "from_email": "a@shop.example",
            "reply_to": "",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["from_name"]


# --- the mailing's sender -------------------------------------------------------


def mailing_data(alice, sender) -> dict:
    start = timezone.now() + timedelta(days=1)
    end = start + timedelta(days=7)
    return {
        "message": MessageFactory.create(owner=alice).pk,
        "sender": sender.pk if sender else "",
        "clients": [ClientFactory.create(owner=alice).pk],
        "start_at_0": start.strftime("%Y-%m-%d"),
        "start_at_1": start.strftime("%H:%M:%S"),
        "end_at_0": end.strftime("%Y-%m-%d"),
        "end_at_1": end.strftime("%H:%M:%S"),
        "periodicity": "once",
    }


def test_the_mailing_form_offers_only_the_owners_verified_senders(
    alice, bob, make_identity
):
    mine = make_identity(alice, "mine@shop.example")
    make_identity(alice, "pending@shop.example", verified=False)
    make_identity(bob, "bob@shop.example")

    form = MailingForm(owner=alice)

    assert list(form.fields["sender"].queryset) == [mine]
    assert "mine@shop.example" in str(form.fields["sender"].help_text)


def test_without_a_verified_sender_the_help_says_who_the_mail_comes_from(alice):
    help_text = str(MailingForm(owner=alice).fields["sender"].help_text)

    assert "noreply@localhost" in help_text and "alice@example.com" in help_text


@pytest.mark.parametrize("whose", ["unverified", "someone else's"])
def test_a_mailing_cannot_be_saved_with_a_sender_it_may_not_use(
    alice, bob, login, make_identity, whose
):
    sender = (
        make_identity(alice, "pending@shop.example", verified=False)
        if whose == "unverified"
        else make_identity(bob, "bob@shop.example")
    )

    response = login(alice).post(
        "/admin/mailings/mailing/add/", mailing_data(alice, sender)
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["sender"]
    assert not Mailing.objects.exists()


def test_a_mailing_is_saved_with_a_verified_sender(alice, login, make_identity):
    sender = make_identity(alice, "mine@shop.example")

    response = login(alice).post(
        "/admin/mailings/mailing/add/", mailing_data(alice, sender)
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Mailing.objects.get().sender == sender
