"""Registration, re-send and password reset are limited per client address and for the
whole site, on top of the one-mail-a-minute limit per account: nobody can keep mail
flowing to any address they like, or fill the user table with unconfirmed accounts."""

import datetime as dt

import pytest
import time_machine
from django.test import Client

from apps.users.models import User
from apps.users.tests.conftest import STRONG_PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
FORMS = {
    "register": (
        "/accounts/register/",
        lambda n: {
            "email": f"new{n}@example.com",
            "password1": STRONG_PASSWORD,
            "password2": STRONG_PASSWORD,
        },
    ),
    "resend": ("/accounts/confirm/resend/", lambda n: {"email": f"p{n}@example.com"}),
    "reset": ("/accounts/password-reset/", lambda n: {"email": f"p{n}@example.com"}),
}


@pytest.fixture
def limits(settings):
    settings.MAILSHOT_ACCOUNT_MAIL_PER_IP = 3
    settings.MAILSHOT_ACCOUNT_MAIL_GLOBAL = 5
    return settings


@pytest.fixture
def pending_people(db):
    for n in range(10):
        UserFactory(email=f"p{n}@example.com", email_confirmed=n % 2 == 0)


def post(form: str, n: int, ip: str = "203.0.113.7", **extra):
    url, data = FORMS[form]
    return Client(REMOTE_ADDR=ip, **extra).post(url, data(n))


@pytest.mark.parametrize("form", FORMS)
def test_one_address_gets_a_clear_429_past_its_hourly_limit(
    limits, pending_people, form
):
    with time_machine.travel(START, tick=False):
        statuses = [post(form, n).status_code for n in range(4)]
        refused = post(form, 4)

    assert statuses[:3] == [302] * 3
    assert statuses[3] == 429
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) == 3600
    html = refused.content.decode()
    assert "Too many requests from your network" in html
    assert "Please try again in 60 minutes." in html
    assert "unfold/css/styles.css" in html
    if form == "register":
        assert User.objects.filter(email__startswith="new").count() == 3


def test_other_addresses_are_not_held_back_by_one_busy_address(limits, pending_people):
    with time_machine.travel(START, tick=False):
        for n in range(4):
            post("register", n)
        other = post("register", 9, ip="198.51.100.9")

    assert other.status_code == 302


def test_the_whole_site_stops_at_its_global_hourly_limit(limits, pending_people):
    with time_machine.travel(START, tick=False):
        statuses = [
            post("register", n, ip=f"198.51.100.{n}").status_code for n in range(6)
        ]
        other_form = post("reset", 0, ip="198.51.100.99")

    assert statuses == [302] * 5 + [429]
    assert other_form.status_code == 302
    assert User.objects.filter(email__startswith="new").count() == 5


def test_the_limits_lift_when_the_hour_is_over(limits, pending_people):
    with time_machine.travel(START, tick=False):
        for n in range(4):
            post("register", n)
    with time_machine.travel(START + dt.timedelta(minutes=61), tick=False):
        response = post("register", 5)

    assert response.status_code == 302


def test_the_limit_counts_the_client_behind_the_trusted_proxy(limits, pending_people):
    limits.MAILSHOT_TRUSTED_PROXIES = 1
    proxy = "10.0.0.2"

    with time_machine.travel(START, tick=False):
        for n in range(3):
            post("register", n, ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.66")
        busy = post("register", 3, ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.66")
        other = post("register", 4, ip=proxy, HTTP_X_FORWARDED_FOR="203.0.113.50")

    assert busy.status_code == 429
    assert other.status_code == 302


def test_invalid_submissions_do_not_use_up_the_limit(limits):
    with time_machine.travel(START, tick=False):
        for _ in range(5):
            Client().post("/accounts/register/", {"email": "nope"})
        response = post("register", 0)

    assert response.status_code == 302
