import pytest
from django.test import Client

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

GENERIC = "Please enter the correct e-mail address and password"
UNCONFIRMED = "Your e-mail address is not confirmed yet"
BLOCKED = "This account has been blocked"


def log_in(email: str, password: str = PASSWORD):
    return Client().post("/admin/login/", {"username": email, "password": password})


@pytest.fixture
def pending(db):
    return UserFactory(email="pending@example.com", email_confirmed=False)


def test_a_confirmed_user_logs_in_and_lands_on_the_dashboard(alice):
    response = log_in("Alice@Example.com")

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_the_login_page_links_to_registration_and_password_reset():
    html = Client().get("/admin/login/").content.decode()

    assert 'href="/accounts/register/"' in html
    assert 'href="/accounts/password-reset/"' in html
    assert 'href="/accounts/confirm/resend/"' in html


def test_the_right_password_for_an_unconfirmed_account_explains_how_to_get_a_link(
    pending,
):
    response = log_in("pending@example.com")

    assert response.status_code == 200
    html = response.content.decode()
    assert UNCONFIRMED in html
    assert 'id="login-unconfirmed"' in html
    assert not response.wsgi_request.user.is_authenticated


def test_a_wrong_password_for_an_unconfirmed_account_reveals_nothing(pending):
    wrong = log_in("pending@example.com", "not-the-password")
    unknown = log_in("nobody@example.com", "not-the-password")

    for response in (wrong, unknown):
        html = response.content.decode()
        assert response.status_code == 200
        assert GENERIC in html
        assert UNCONFIRMED not in html
        assert 'id="login-unconfirmed"' not in html


def test_the_right_password_for_a_blocked_account_says_it_is_blocked(alice):
    alice.is_blocked = True
    alice.save()

    response = log_in("alice@example.com")

    assert response.status_code == 200
    assert BLOCKED in response.content.decode()
    assert not response.wsgi_request.user.is_authenticated


def test_a_wrong_password_for_a_blocked_account_reveals_nothing(alice):
    alice.is_blocked = True
    alice.save()

    html = log_in("alice@example.com", "not-the-password").content.decode()

    assert GENERIC in html
    assert BLOCKED not in html


def test_a_login_without_a_csrf_token_is_refused_with_403(alice):
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        "/admin/login/", {"username": "alice@example.com", "password": PASSWORD}
    )

    assert response.status_code == 403


@pytest.mark.parametrize("username", ["a" * 5000 + "@example.com", "alice\x00@x.com"])
def test_an_oversized_or_nul_username_is_refused_before_anything_records_it(
    alice, username
):
    """axes keeps the username of a failed login in a 255-character column, and
    PostgreSQL refuses NUL: such input must stop at the form, not end in a 500."""
    from axes.models import AccessAttempt

    response = log_in(username, "not-the-password")

    assert response.status_code == 200
    assert GENERIC not in response.content.decode()
    assert not response.wsgi_request.user.is_authenticated
    assert not AccessAttempt.objects.exists()
