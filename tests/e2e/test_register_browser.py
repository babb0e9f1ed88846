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
    page.get_by_role("button", name="Confirm my e-mail address").click()

    expect(page).to_have_url(re.compile(rf"^{re.escape(site.url)}/admin/$"))
    expect(page.get_by_text("Your e-mail address is confirmed")).to_be_visible()
    screenshot("admin")

    user = User.objects.get(email="browser.visitor@example.com")
    assert user.email_confirmed and user.is_staff
    assert user.groups.filter(name=roles.USERS).exists()
