import re

import pytest
from playwright.sync_api import expect

from apps.users import roles
from apps.users.models import User
from apps.users.tests.conftest import STRONG_PASSWORD, link_to

pytestmark = [pytest.mark.browser, pytest.mark.smtp]


def test_a_visitor_registers_confirms_from_the_mail_and_lands_in_the_admin(
    site, page, wait_for_mail, screenshot
):
    page.goto(f"{site.url}/admin/login/")
    page.get_by_role("link", name="Create an account").click()
    expect(page).to_have_url(f"{site.url}/accounts/register/")

    form = page.locator("#register-form")
    form.locator("input[name=email]").fill("browser.visitor@example.com")
    form.locator("input[name=first_name]").fill("Bea")
    form.locator("input[name=password1]").fill(STRONG_PASSWORD)
    form.locator("input[name=password2]").fill(STRONG_PASSWORD)
    page.get_by_role("button", name="Create an account").click()

    expect(page).to_have_url(f"{site.url}/accounts/register/done/")
    expect(page.locator("#register-done")).to_contain_text("Open the link")
    screenshot("registered")

    received = wait_for_mail("browser.visitor@example.com")
    link = link_to(received, "/accounts/confirm/")
    assert link.startswith(site.url)

    page.goto(link)
    expect(page.get_by_text("browser.visitor@example.com")).to_be_visible()
    # The link alone confirms nothing: the registered password is typed again.
    page.locator("#confirm-form input[name=password]").fill(STRONG_PASSWORD)
    page.get_by_role("button", name="Confirm my e-mail address").click()

    expect(page).to_have_url(re.compile(rf"^{re.escape(site.url)}/admin/$"))
    expect(page.get_by_text("Your e-mail address is confirmed")).to_be_visible()
    screenshot("admin")

    user = User.objects.get(email="browser.visitor@example.com")
    assert user.email_confirmed and user.is_staff
    assert user.groups.filter(name=roles.USERS).exists()


def test_someone_who_did_not_register_sets_their_own_password_on_the_confirm_page(
    site, page, wait_for_mail, screenshot
):
    """The mailbox's owner opens a confirmation mail of a registration somebody else
    made: typing a new password shows a second field, and that password is the one
    that works afterwards."""
    User.objects.create_user(
        email="owner@example.com", password="Someone-elses-pass-91"
    )
    page.goto(f"{site.url}/accounts/confirm/resend/")
    page.locator("input[name=email]").fill("owner@example.com")
    page.locator("form button[type=submit]").click()
    link = link_to(wait_for_mail("owner@example.com"), "/accounts/confirm/")

    page.goto(link)
    form = page.locator("#confirm-form")
    expect(form.locator("input[name=password2]")).to_have_count(0)
    form.locator("input[name=password]").fill(STRONG_PASSWORD)
    page.get_by_role("button", name="Confirm my e-mail address").click()
    expect(form.locator("input[name=password2]")).to_be_visible()
    screenshot("type-it-again")
    form.locator("input[name=password]").fill(STRONG_PASSWORD)
    form.locator("input[name=password2]").fill(STRONG_PASSWORD)
    page.get_by_role("button", name="Confirm my e-mail address").click()

    expect(page).to_have_url(re.compile(rf"^{re.escape(site.url)}/admin/$"))
    user = User.objects.get(email="owner@example.com")
    assert user.check_password(STRONG_PASSWORD)
    assert not user.check_password("Someone-elses-pass-91")
