import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client

from apps.users.models import User
from apps.users.tests.conftest import STRONG_PASSWORD, link_to
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_registration_page_is_themed_like_the_admin_login():
    response = Client().get("/accounts/register/")

    assert response.status_code == 200
    assert "unfold/layouts/unauthenticated.html" in [t.name for t in response.templates]
    html = response.content.decode()
    assert "unfold/css/styles.css" in html
    for name in ("email", "first_name", "last_name", "password1", "password2"):
        assert f'name="{name}"' in html


def test_registering_creates_an_unconfirmed_account_and_mails_a_confirmation_link(
    register, smtp_sink
):
    response = register("New.Person@Example.com")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/register/done/"
    user = User.objects.get(email="new.person@example.com")
    assert not user.email_confirmed
    assert not user.is_staff
    assert user.check_password(STRONG_PASSWORD)
    assert user.first_name == "Dana"

    [received] = smtp_sink.messages
    assert received.envelope_to == ["new.person@example.com"]
    message = received.message
    assert message["Subject"] == "Confirm your e-mail address for Mailshot"
    html = message.get_body(preferencelist=("html",)).get_content()
    link = link_to(received, "/accounts/confirm/")
    assert link.startswith("http://localhost:8000/accounts/confirm/")
    assert link in html


def test_the_confirmation_mail_is_queued_after_commit_never_inside_the_request(
    django_capture_on_commit_callbacks, smtp_sink
):
    data = {
        "email": "later@example.com",
        "password1": STRONG_PASSWORD,
        "password2": STRONG_PASSWORD,
    }
    with django_capture_on_commit_callbacks() as callbacks:
        response = Client().post("/accounts/register/", data)

    assert response.status_code == 302
    assert smtp_sink.messages == []
    assert len(callbacks) == 1

    callbacks[0]()
    assert [m.envelope_to for m in smtp_sink.messages] == [["later@example.com"]]


def test_registering_a_taken_address_mails_its_owner_instead_of_making_a_second_account(
    register, smtp_sink, alice
):
    response = register(
        "ALICE@example.com",
        password1="Other-pass-9876-x",
        password2="Other-pass-9876-x",
    )

    assert response.status_code == 302
    assert User.objects.filter(email__iexact="alice@example.com").count() == 1
    alice.refresh_from_db()
    assert alice.check_password("correct-horse-battery-staple")

    [received] = smtp_sink.messages
    assert received.envelope_to == ["alice@example.com"]
    assert received.message["Subject"] == "You already have a Mailshot account"
    assert "/accounts/password-reset/" in link_to(received, "/password-reset/")
    assert "/accounts/confirm/" not in received.message.as_string()


def test_an_unconfirmed_owner_registering_again_gets_a_fresh_confirmation_link(
    register, smtp_sink
):
    UserFactory(email="pending@example.com", email_confirmed=False, is_staff=False)

    register("pending@example.com")

    [received] = smtp_sink.messages
    assert received.message["Subject"] == "You already have a Mailshot account"
    assert link_to(received, "/accounts/confirm/")


def test_registration_answers_the_same_for_new_and_taken_addresses(
    register, smtp_sink, alice
):
    new = register("brand-new@example.com")
    taken = register("alice@example.com")

    assert new.status_code == taken.status_code == 302
    assert new["Location"] == taken["Location"]
    new_page = Client().get(new["Location"])
    taken_page = Client().get(taken["Location"])
    assert new_page.status_code == taken_page.status_code == 200
    assert [t.name for t in new_page.templates] == [
        t.name for t in taken_page.templates
    ]
    assert new_page.content == taken_page.content


def test_registration_hashes_the_password_for_taken_addresses_too(
    register, smtp_sink, alice, monkeypatch
):
    calls = []
    original = MD5PasswordHasher.encode

    def counting_encode(self, password, salt):
        calls.append(password)
        return original(self, password, salt)

    monkeypatch.setattr(MD5PasswordHasher, "encode", counting_encode)

    register("brand-new@example.com")
    new_path = len(calls)
    register("alice@example.com")
    taken_path = len(calls) - new_path

    assert new_path == taken_path == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "not-an-address", "Enter a valid email address."),
        ("email", "", "This field is required."),
        ("password1", "123", "This password is too short."),
        ("password1", "password", "This password is too common."),
        ("password2", "Something-else-1", "The two passwords do not match."),
        ("first_name", "Eve\r\nBcc: x@example.com", "A name must fit on one line."),
    ],
)
def test_bad_registration_input_is_refused_with_a_clear_message(
    field, value, message, smtp_sink
):
    data = {
        "email": "someone@example.com",
        "password1": STRONG_PASSWORD,
        "password2": STRONG_PASSWORD,
    }
    data[field] = value
    if field == "password1":
        data["password2"] = value

    response = Client().post("/accounts/register/", data)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.filter(email="someone@example.com").exists()
    assert smtp_sink.messages == []


def test_a_password_like_the_address_is_refused():
    data = {
        "email": "margaretha@example.com",
        "password1": "margaretha",
        "password2": "margaretha",
    }
    response = Client().post("/accounts/register/", data)

    assert response.status_code == 200
    assert "The password is too similar" in response.content.decode()


def test_a_registration_without_a_csrf_token_is_refused_with_403():
    client = Client(enforce_csrf_checks=True)
    data = {
        "email": "forged@example.com",
        "password1": STRONG_PASSWORD,
        "password2": STRONG_PASSWORD,
    }

    response = client.post("/accounts/register/", data)

    assert response.status_code == 403
    assert "403_csrf.html" in [t.name for t in response.templates]
    assert not User.objects.filter(email="forged@example.com").exists()


def test_a_huge_registration_body_is_refused_with_400():
    data = {
        "email": "big@example.com",
        "first_name": "x" * (6 * 1024 * 1024),
        "password1": STRONG_PASSWORD,
        "password2": STRONG_PASSWORD,
    }

    response = Client().post("/accounts/register/", data)

    assert response.status_code == 400
    assert not User.objects.filter(email="big@example.com").exists()
