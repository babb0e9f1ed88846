"""Validation of clients, messages and mailings: in the models, and in the admin's
forms, where bad input gets a message next to the field (never a 500)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from apps.mailings.models import Client, Mailing, Message
from tests.factories import ClientFactory, MessageFactory

pytestmark = pytest.mark.django_db


def errors_of(obj) -> dict:
    with pytest.raises(ValidationError) as info:
        obj.full_clean()
    return info.value.message_dict


# --- Mailing ---


def _mailing(owner, **fields) -> Mailing:
    start = timezone.now() + timedelta(days=1)
    fields.setdefault("start_at", start)
    fields.setdefault("end_at", start + timedelta(days=1))
    return Mailing(owner=owner, message=MessageFactory.create(owner=owner), **fields)


@pytest.mark.parametrize("hours", [0, -1, -48])
def test_a_mailing_must_end_after_it_starts(alice, hours):
    start = timezone.now() + timedelta(days=1)
    mailing = _mailing(alice, start_at=start, end_at=start + timedelta(hours=hours))

    assert "end_at" in errors_of(mailing)


def test_a_mailing_ending_after_it_starts_is_valid(alice):
    _mailing(alice).full_clean()


def test_the_database_refuses_an_end_before_the_start_too(alice):
    mailing = _mailing(alice)
    mailing.end_at = mailing.start_at - timedelta(minutes=1)

    with pytest.raises(IntegrityError), transaction.atomic():
        mailing.save()


def test_a_mailing_cannot_use_someone_elses_message(alice, bob):
    mailing = _mailing(alice)
    mailing.message = MessageFactory(owner=bob)

    assert "message" in errors_of(mailing)


def test_an_unknown_periodicity_is_refused(alice):
    assert "periodicity" in errors_of(_mailing(alice, periodicity="hourly"))


# --- Client ---


@pytest.mark.parametrize(
    "email", ["not-an-address", "two@@example.org", "a@b", "", "x@example.org\n"]
)
def test_a_client_needs_a_valid_email(alice, email):
    assert "email" in errors_of(Client(owner=alice, email=email))


@pytest.mark.parametrize("name", ["Ann\nBcc: x@evil.example", "Ann\r", "\r\nAnn"])
def test_line_breaks_are_refused_in_a_clients_name(alice, name):
    client = Client(owner=alice, email="ann@example.org", full_name=name)

    assert "full_name" in errors_of(client)


def test_a_plain_client_is_valid(alice):
    Client(owner=alice, email="ann@example.org", full_name="Ann Lee").full_clean()


@pytest.mark.parametrize("spelling", ["ann@example.org", "ANN@Example.ORG"])
def test_one_owner_cannot_have_the_same_client_email_twice_in_any_case(alice, spelling):
    ClientFactory(owner=alice, email="Ann@example.org")

    assert "email" in errors_of(Client(owner=alice, email=spelling))


def test_the_database_refuses_a_duplicate_client_email_whatever_its_case(alice):
    ClientFactory(owner=alice, email="ann@example.org")

    with pytest.raises(IntegrityError), transaction.atomic():
        Client.objects.create(owner=alice, email="ANN@example.org")


def test_two_owners_may_keep_the_same_address(alice, bob):
    ClientFactory(owner=alice, email="ann@example.org")

    Client(owner=bob, email="ann@example.org").full_clean()


def test_editing_a_client_does_not_collide_with_itself(alice):
    client = ClientFactory(owner=alice, email="ann@example.org")
    client.full_name = "Ann Lee"

    client.full_clean()


# --- Message ---


@pytest.mark.parametrize("subject", ["Hi\nBcc: x@evil.example", "Hi\r", "Hi\r\n"])
def test_line_breaks_are_refused_in_a_subject(alice, subject):
    message = Message(owner=alice, subject=subject, body="Body")

    assert "subject" in errors_of(message)


def test_a_message_needs_a_subject_and_a_body(alice):
    errors = errors_of(Message(owner=alice, subject="", body=""))

    assert {"subject", "body"} <= set(errors)


def test_line_breaks_are_fine_in_a_body(alice):
    Message(owner=alice, subject="Hi", body="Line one\r\nLine two").full_clean()


# --- The same rules in the admin: a message next to the field, never a 500 ---


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "nope", "full_name": "Ann"}, "email"),
        ({"email": "ann@example.org", "full_name": "Ann\r\nBcc: x@y.z"}, "full_name"),
        ({"email": "DUP@example.org", "full_name": ""}, "email"),
    ],
)
def test_the_client_form_shows_bad_input_next_to_the_field(alice, login, data, field):
    ClientFactory(owner=alice, email="dup@example.org")

    response = login(alice).post(reverse("admin:mailings_client_add"), data)

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert Client.objects.filter(owner=alice).count() == 1


def test_the_message_form_refuses_a_subject_with_a_line_break(alice, login):
    response = login(alice).post(
        reverse("admin:mailings_message_add"),
        {"subject": "Hi\r\nBcc: x@evil.example", "body": "Body"},
    )

    assert response.status_code == 200
    assert "subject" in response.context["adminform"].form.errors
    assert not Message.objects.exists()


def test_a_message_in_use_cannot_be_deleted_on_its_own(alice):
    from django.db.models import RestrictedError

    from tests.factories import MailingFactory

    mailing = MailingFactory(owner=alice)
    with pytest.raises(RestrictedError):
        mailing.message.delete()


def test_deleting_a_person_takes_their_mailings_and_messages_along(alice):
    from apps.mailings.models import Mailing, Message
    from tests.factories import MailingFactory

    MailingFactory(owner=alice)
    alice.delete()
    assert not Mailing.objects.exists()
    assert not Message.objects.exists()
