"""User.time_zone: set at registration from the browser, edited on the person's own
settings page (every role; nobody else's), and activated for their requests so the
admin shows and takes date-times in it, labelled with the zone's name."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse

from apps.mailings.models import Mailing
from apps.users.models import User
from apps.users.tests.conftest import STRONG_PASSWORD
from tests.factories import ClientFactory, MailingFactory, MessageFactory

pytestmark = pytest.mark.django_db

SETTINGS_URL = "/accounts/settings/"
BERLIN = ZoneInfo("Europe/Berlin")


def _register(zone: str | None) -> User:
    data = {
        "email": "zoned@example.com",
        "password1": STRONG_PASSWORD,
        "password2": STRONG_PASSWORD,
    }
    if zone is not None:
        data["time_zone"] = zone
    response = Client().post("/accounts/register/", data)
    assert response.status_code == 302
    return User.objects.get(email="zoned@example.com")


def test_the_registration_page_carries_a_hidden_zone_field_and_its_static_script():
    html = Client().get("/accounts/register/").content.decode()
    assert 'type="hidden" name="time_zone"' in html
    assert "data-time-zone" in html
    assert "/static/js/time-zone.js" in html
    assert "<script>" not in html  # no inline script: the CSP forbids it


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("Asia/Tokyo", "Asia/Tokyo"),
        ("Mars/Olympus_Mons", "UTC"),
        ("", "UTC"),
        (None, "UTC"),
        ("../../etc/passwd", "UTC"),
    ],
)
def test_registration_keeps_the_browsers_zone_or_falls_back_to_utc(sent, stored):
    assert str(_register(sent).time_zone) == stored


def test_a_new_account_defaults_to_utc(alice):
    assert str(alice.time_zone) == "UTC"


def test_anonymous_visitors_are_sent_to_the_login_page():
    response = Client().get(SETTINGS_URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("persona", ["alice", "manager", "editor", "superuser"])
def test_every_role_edits_their_own_zone_and_nobody_elses(persona, bob, login, request):
    me = request.getfixturevalue(persona)
    http = login(me)
    page = http.get(SETTINGS_URL)
    assert page.status_code == 200
    assert 'name="time_zone"' in page.content.decode()
    response = http.post(
        SETTINGS_URL,
        {
            "first_name": "Me",
            "last_name": "",
            "time_zone": "Europe/Berlin",
            # Crafted: the form has no such fields, they must be ignored.
            "email": "taken@example.com",
            "is_superuser": "on",
            "id": bob.pk,
        },
    )
    assert response.status_code == 302
    me.refresh_from_db()
    bob.refresh_from_db()
    assert str(me.time_zone) == "Europe/Berlin"
    assert me.email != "taken@example.com"
    assert str(bob.time_zone) == "UTC"
    assert me.is_superuser == (persona == "superuser")


def test_an_unknown_zone_is_a_form_error_not_a_500(alice, login):
    response = login(alice).post(SETTINGS_URL, {"time_zone": "Nowhere/Land"})
    assert response.status_code == 200
    assert response.context["form"].errors["time_zone"]
    alice.refresh_from_db()
    assert str(alice.time_zone) == "UTC"


def test_the_user_menu_links_to_the_settings_page(alice, login):
    html = login(alice).get("/admin/").content.decode()
    assert f'href="{SETTINGS_URL}"' in html
    assert reverse("admin:password_change") in html


# --- the admin in the person's zone ---------------------------------------------


@pytest.fixture
def berliner(alice):
    alice.time_zone = "Europe/Berlin"
    alice.save(update_fields=["time_zone"])
    return alice


def test_the_mailing_form_takes_times_in_the_owners_zone_and_says_which(
    berliner, login
):
    http = login(berliner)
    page = http.get(reverse("admin:mailings_mailing_add"))
    assert "Europe/Berlin" in page.content.decode()
    message = MessageFactory(owner=berliner)
    client = ClientFactory(owner=berliner)
    response = http.post(
        reverse("admin:mailings_mailing_add"),
        {
            "message": message.pk,
            "clients": [client.pk],
            "start_at_0": "2099-01-15",
            "start_at_1": "09:00:00",
            "end_at_0": "2099-07-15",
            "end_at_1": "09:00:00",
            "periodicity": "daily",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    mailing = Mailing.objects.get(owner=berliner)
    # 09:00 Berlin is 08:00 UTC in winter and 07:00 UTC in summer.
    assert mailing.start_at == datetime(2099, 1, 15, 8, tzinfo=ZoneInfo("UTC"))
    assert mailing.end_at == datetime(2099, 7, 15, 7, tzinfo=ZoneInfo("UTC"))


def test_the_mailing_list_shows_times_in_the_owners_zone(berliner, login):
    MailingFactory(
        owner=berliner,
        start_at=datetime(2099, 1, 15, 8, tzinfo=ZoneInfo("UTC")),
        end_at=datetime(2099, 2, 15, 8, tzinfo=ZoneInfo("UTC")),
    )
    html = login(berliner).get(reverse("admin:mailings_mailing_changelist")).content
    text = html.decode()
    assert "9 a.m." in text  # 08:00 UTC shown as Berlin's 09:00
    assert "Europe/Berlin" in text  # ... and labelled with the zone


def test_anonymous_pages_keep_the_server_zone(berliner, settings):
    from django.utils import timezone

    Client().get("/")
    assert timezone.get_current_timezone_name() == settings.TIME_ZONE


def test_the_zone_does_not_leak_into_the_next_request(berliner, bob, login):
    from django.utils import timezone

    login(berliner).get("/admin/")
    assert timezone.get_current_timezone_name() == "UTC"
    html = login(bob).get(reverse("admin:mailings_mailing_add")).content.decode()
    assert "Europe/Berlin" not in html


# --- the logout page ------------------------------------------------------------


def test_a_typed_logout_url_shows_a_page_whose_button_logs_out(alice, login):
    http = login(alice)
    page = http.get("/admin/logout/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="logout-page-form"' in html
    assert 'action="/admin/logout/"' in html
    assert http.get("/admin/").status_code == 200  # GET did not log out
    response = http.post("/admin/logout/")
    assert response.status_code in (200, 302)
    assert http.get("/admin/").status_code == 302  # now logged out


def test_the_logout_page_sends_the_anonymous_to_the_login_page():
    response = Client().get("/admin/logout/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_attempt_and_next_run_columns_name_the_zone(berliner, login):
    from django.utils import timezone

    from apps.mailings.services import attempt_created

    mailing = MailingFactory(owner=berliner)
    attempt_created(attempt=mailing.attempts.create(attempted_at=timezone.now()))
    http = login(berliner)
    attempts = http.get(reverse("admin:mailings_attempt_changelist")).content.decode()
    assert "(Europe/Berlin)" in attempts
    assert "field-attempted_at" in attempts  # the column keeps its CSS class
    mailings = http.get(reverse("admin:mailings_mailing_changelist")).content.decode()
    assert mailings.count("(Europe/Berlin)") >= 3  # start, end, next run
