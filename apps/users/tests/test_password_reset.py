import pytest
from django.test import Client

from apps.users import roles
from apps.users.models import User
from apps.users.tests.conftest import link_to, path_of
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Quiet-harbour-83-kites"


@pytest.fixture
def ask_for_reset(post_and_commit):
    def _ask(email: str):
        return post_and_commit(Client(), "/accounts/password-reset/", {"email": email})

    return _ask


def set_password_through(link: str, password: str = NEW_PASSWORD):
    browser = Client()
    form = browser.get(path_of(link), follow=True)
    assert form.status_code == 200
    assert 'id="password-set-form"' in form.content.decode()
    return browser.post(
        form.redirect_chain[-1][0],
        {"new_password1": password, "new_password2": password},
    )


def test_the_reset_page_is_themed_like_the_admin_login():
    response = Client().get("/accounts/password-reset/")

    assert response.status_code == 200
    assert "unfold/css/styles.css" in response.content.decode()


def test_a_reset_mail_leads_to_a_new_password_that_logs_in(
    alice, ask_for_reset, smtp_sink
):
    response = ask_for_reset("ALICE@example.com")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password-reset/done/"

    [received] = smtp_sink.messages
    assert received.envelope_to == ["alice@example.com"]
    assert received.message["Subject"] == "Reset your Mailshot password"
    link = link_to(received, "/accounts/password-reset/")

    done = set_password_through(link)
    assert done.status_code == 302
    assert done["Location"] == "/accounts/password-reset/complete/"

    login = Client().post(
        "/admin/login/", {"username": "alice@example.com", "password": NEW_PASSWORD}
    )
    assert login.status_code == 302

    # The link works once.
    again = Client().get(path_of(link), follow=True)
    assert 'id="password-reset-invalid"' in again.content.decode()


def test_a_reset_for_an_unknown_or_blocked_address_answers_the_same_and_sends_nothing(
    alice, bob, ask_for_reset, smtp_sink
):
    User.objects.filter(pk=bob.pk).update(is_blocked=True)

    answers = [
        ask_for_reset(email)
        for email in ("nobody@example.com", "bob@example.com", "alice@example.com")
    ]

    assert {(a.status_code, a["Location"]) for a in answers} == {
        (302, "/accounts/password-reset/done/")
    }
    assert [m.envelope_to for m in smtp_sink.messages] == [["alice@example.com"]]


def test_a_weak_new_password_is_refused_with_a_clear_message(
    alice, ask_for_reset, smtp_sink
):
    ask_for_reset("alice@example.com")
    link = link_to(smtp_sink.messages[0], "/accounts/password-reset/")

    response = set_password_through(link, "12345")

    assert response.status_code == 200
    assert "This password is too short." in response.content.decode()


def test_a_tampered_reset_link_shows_a_clear_message(alice):
    response = Client().get("/accounts/password-reset/MQ/bad-token/", follow=True)

    assert response.status_code == 200
    assert 'id="password-reset-invalid"' in response.content.decode()


def test_resetting_the_password_of_an_unconfirmed_account_confirms_it(
    ask_for_reset, smtp_sink
):
    UserFactory(email="pending@example.com", email_confirmed=False, is_staff=False)
    ask_for_reset("pending@example.com")
    link = link_to(smtp_sink.messages[0], "/accounts/password-reset/")

    set_password_through(link)

    user = User.objects.get(email="pending@example.com")
    assert user.email_confirmed and user.is_staff
    assert user.groups.filter(name=roles.USERS).exists()
