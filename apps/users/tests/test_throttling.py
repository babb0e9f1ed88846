import datetime as dt

import pytest
import time_machine
from django.test import Client

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def log_in(email: str, password: str = PASSWORD, ip: str = "203.0.113.7"):
    return Client(REMOTE_ADDR=ip).post(
        "/admin/login/", {"username": email, "password": password}
    )


def fail(email: str, times: int, ip: str = "203.0.113.7") -> list[int]:
    return [log_in(email, "wrong-password", ip).status_code for _ in range(times)]


def test_five_failed_logins_lock_the_account_from_that_address(alice, settings):
    assert settings.AXES_FAILURE_LIMIT == 5

    statuses = fail("alice@example.com", 5)

    assert statuses[:4] == [200] * 4
    assert statuses[4] == 429
    # Even the right password is refused while locked.
    assert log_in("alice@example.com").status_code == 429


def test_the_lockout_page_says_clearly_what_happened_and_when_to_retry(alice):
    fail("alice@example.com", 5)

    response = log_in("alice@example.com")

    assert response.status_code == 429
    html = response.content.decode()
    assert "Too many failed login attempts." in html
    assert "Please try again in 15 minutes." in html
    assert "unfold/css/styles.css" in html
    assert 'href="/accounts/password-reset/"' in html


def test_the_lock_lifts_after_the_cool_off(alice):
    start = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        fail("alice@example.com", 5)
        assert log_in("alice@example.com").status_code == 429

    # (An attempt during the lock would restart the cool-off: axes' default.)
    with time_machine.travel(start + dt.timedelta(minutes=16), tick=False):
        response = log_in("alice@example.com")
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_a_lock_on_one_account_leaves_other_accounts_and_addresses_alone(alice, bob):
    fail("alice@example.com", 5)

    assert log_in("bob@example.com").status_code == 302
    assert log_in("alice@example.com", ip="198.51.100.9").status_code == 302


def test_a_locked_out_unconfirmed_account_learns_nothing_more():
    UserFactory(email="pending@example.com", email_confirmed=False)
    fail("pending@example.com", 5)

    response = log_in("pending@example.com")

    assert response.status_code == 429
    assert "not confirmed" not in response.content.decode()
