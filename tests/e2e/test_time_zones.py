"""Time zones in the browser, in English and Russian: registration takes the browser's
zone (static script, CSP intact), the person changes it on "My settings", and the
mailing form takes 09:00 in that zone, names the zone next to the fields and in the
list's columns, and stores the instant in UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from apps.mailings.models import Mailing
from apps.users import roles
from apps.users.models import User
from apps.users.tests.conftest import STRONG_PASSWORD
from tests.e2e.conftest import guard_csp
from tests.factories import ClientFactory, MessageFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.smtp]

LOCALES = {"en": "en-US", "ru": "ru-RU"}
SAVED = {"en": "Your settings were saved.", "ru": "Настройки сохранены."}
ZONE_HINT = {"en": "Time zone: Europe/Berlin", "ru": "Часовой пояс: Europe/Berlin"}
# 09:00 on 15 January 2099 as Django shows it in each language.
NINE_AM = {"en": "9 a.m.", "ru": "9:00"}


@pytest.fixture(params=list(LOCALES))
def lang(request) -> str:
    return request.param


@pytest.fixture
def open_page(browser, site, lang):
    """open_page(zone) -> a page of a browser whose clock is in `zone`; the test
    fails on any script error or Content-Security-Policy violation."""
    contexts, errors, violations = [], [], []

    def _open(zone: str):
        context = browser.new_context(
            locale=LOCALES[lang],
            timezone_id=zone,
            base_url=site.url,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(15_000)
        guard_csp(context, violations)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield _open
    for context in contexts:
        context.close()
    assert not errors, "script errors:\n" + "\n".join(errors)
    assert not violations, "CSP violations:\n" + "\n".join(violations)


def login(page, email: str) -> None:
    page.goto("/admin/login/")
    form = page.locator("#login-form")
    form.locator("input[name=username]").fill(email)
    form.locator("input[name=password]").fill(STRONG_PASSWORD)
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))


def pick(page, field: str, text: str) -> None:
    page.locator(f"select[name={field}] + .select2 .select2-selection").click()
    page.locator(
        ".select2-container--open .select2-search__field, "
        f"select[name={field}] + .select2 .select2-search__field"
    ).first.fill(text)
    page.locator(".select2-results__option", has_text=text).first.click()


def test_registration_takes_the_browsers_time_zone(open_page, lang):
    page = open_page("Asia/Tokyo")
    page.goto("/accounts/register/")
    hidden = page.locator("#register-form input[name=time_zone]")
    expect(hidden).to_have_value("Asia/Tokyo")  # filled by static/js/time-zone.js
    email = f"tokyo.{lang}@example.com"
    form = page.locator("#register-form")
    form.locator("input[name=email]").fill(email)
    form.locator("input[name=password1]").fill(STRONG_PASSWORD)
    form.locator("input[name=password2]").fill(STRONG_PASSWORD)
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/accounts/register/done/$"))
    assert str(User.objects.get(email=email).time_zone) == "Asia/Tokyo"


def test_an_owner_sets_berlin_and_schedules_nine_oclock_berlin_time(open_page, lang):
    owner = UserFactory(
        email=f"berlin.{lang}@example.com", group=roles.USERS, password=STRONG_PASSWORD
    )
    owner.set_password(STRONG_PASSWORD)
    owner.save()
    MessageFactory(owner=owner, subject=f"Morning news {lang}")
    ClientFactory(owner=owner, email="reader@example.org", full_name="Rita Reader")
    # The browser's own zone plays no part once the account has one.
    page = open_page("America/New_York")
    login(page, owner.email)
    expect(page.locator("a[href='/accounts/settings/']")).to_have_count(1)

    page.goto("/accounts/settings/")
    page.locator("select[name=time_zone]").select_option("Europe/Berlin")
    page.locator("#settings-form button[type=submit]").click()
    expect(page.get_by_text(SAVED[lang])).to_be_visible()
    owner.refresh_from_db()
    assert str(owner.time_zone) == "Europe/Berlin"

    page.goto("/admin/mailings/mailing/add/")
    expect(page.get_by_text(ZONE_HINT[lang]).first).to_be_visible()
    pick(page, "message", f"Morning news {lang}")
    pick(page, "clients", "Rita Reader")
    page.locator("input[name=start_at_0]").fill("2099-01-15")
    page.locator("input[name=start_at_1]").fill("09:00:00")
    page.locator("input[name=end_at_0]").fill("2099-07-15")
    page.locator("input[name=end_at_1]").fill("09:00:00")
    page.locator("select[name=periodicity]").select_option("daily")
    page.locator("button[name=_save]").click()
    expect(page).to_have_url(re.compile(r"/admin/mailings/mailing/$"))

    mailing = Mailing.objects.get(owner=owner)
    # 09:00 in Berlin: 08:00 UTC in winter (CET), 07:00 UTC in summer (CEST).
    assert mailing.start_at == datetime(2099, 1, 15, 8, tzinfo=UTC)
    assert mailing.end_at == datetime(2099, 7, 15, 7, tzinfo=UTC)

    header = page.locator("#result_list thead")
    expect(header).to_contain_text("(Europe/Berlin)")
    start_cell = page.locator("#result_list tbody td.field-start_at").first
    expect(start_cell).to_contain_text(NINE_AM[lang])
    end_cell = page.locator("#result_list tbody td.field-end_at").first
    expect(end_cell).to_contain_text(NINE_AM[lang])  # summer time, still 09:00
