"""Account pre-hijack: someone registers another person's address before they do.

Whoever controls the mailbox must end up with the only working password, whichever
mailed link they use: the "you already have an account" mail of their own
registration, or the confirmation mail of the attacker's.
"""

import pytest
from django.test import Client

from apps.users.models import User
from apps.users.tests.conftest import link_to, path_of

pytestmark = pytest.mark.django_db

VICTIM = "victim@example.com"
ATTACKERS_PASSWORD = "Attackers-own-secret-771"
VICTIMS_PASSWORD = "Victims-garden-gate-382"


def logs_in(password: str) -> bool:
    response = Client().post(
        "/admin/login/", {"username": VICTIM, "password": password}
    )
    return response.status_code == 302 and response["Location"] == "/admin/"


def mails_to_victim(smtp_sink) -> list:
    return [m for m in smtp_sink.messages if m.envelope_to == [VICTIM]]


def test_the_owner_confirming_through_the_already_registered_mail_locks_attacker_out(
    register, smtp_sink
):
    register(VICTIM, password1=ATTACKERS_PASSWORD, password2=ATTACKERS_PASSWORD)
    register(VICTIM, password1=VICTIMS_PASSWORD, password2=VICTIMS_PASSWORD)
    attackers_mail, owners_mail = mails_to_victim(smtp_sink)
    assert owners_mail.message["Subject"] == "You already have a Mailshot account"
    path = path_of(link_to(owners_mail, "/accounts/confirm/"))
    owner = Client()

    response = owner.post(path, {"password": VICTIMS_PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert User.objects.get(email=VICTIM).email_confirmed
    assert not logs_in(ATTACKERS_PASSWORD)
    assert logs_in(VICTIMS_PASSWORD)
    # The attacker's registration mail is of no further use either.
    stale = path_of(link_to(attackers_mail, "/accounts/confirm/"))
    assert Client().post(stale, {"password": ATTACKERS_PASSWORD}).status_code == 400


def test_the_owner_confirming_through_the_attackers_own_mail_locks_attacker_out(
    register, smtp_sink
):
    register(VICTIM, password1=ATTACKERS_PASSWORD, password2=ATTACKERS_PASSWORD)
    [attackers_mail] = mails_to_victim(smtp_sink)
    path = path_of(link_to(attackers_mail, "/accounts/confirm/"))
    owner = Client()

    # The owner never registered: they choose their password on the page.
    response = owner.post(
        path, {"password": VICTIMS_PASSWORD, "password2": VICTIMS_PASSWORD}
    )

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert User.objects.get(email=VICTIM).email_confirmed
    assert not logs_in(ATTACKERS_PASSWORD)
    assert logs_in(VICTIMS_PASSWORD)


def test_pressing_the_button_without_a_password_confirms_nothing_and_logs_nobody_in(
    register, smtp_sink
):
    register(VICTIM, password1=ATTACKERS_PASSWORD, password2=ATTACKERS_PASSWORD)
    path = path_of(link_to(mails_to_victim(smtp_sink)[0], "/accounts/confirm/"))

    response = Client().post(path)

    assert response.status_code == 200
    assert not response.wsgi_request.user.is_authenticated
    assert not User.objects.get(email=VICTIM).email_confirmed
    assert not logs_in(ATTACKERS_PASSWORD)


def test_a_password_other_than_the_registered_one_must_be_typed_twice_to_be_set(
    register, smtp_sink
):
    register(VICTIM, password1=ATTACKERS_PASSWORD, password2=ATTACKERS_PASSWORD)
    path = path_of(link_to(mails_to_victim(smtp_sink)[0], "/accounts/confirm/"))

    once = Client().post(path, {"password": VICTIMS_PASSWORD})
    mismatch = Client().post(
        path, {"password": VICTIMS_PASSWORD, "password2": "Something-else-123"}
    )
    weak = Client().post(path, {"password": "123", "password2": "123"})

    assert once.status_code == mismatch.status_code == weak.status_code == 200
    assert 'name="password2"' in once.content.decode()
    assert "type it again" in once.content.decode()
    assert "The two passwords do not match." in mismatch.content.decode()
    assert "This password is too short." in weak.content.decode()
    assert not User.objects.get(email=VICTIM).email_confirmed
