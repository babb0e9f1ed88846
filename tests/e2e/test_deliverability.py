"""A tracked mailing seen from both ends, in English and in Russian: a reader opens
the received HTML message (its pixel) and follows a link; the owner's report moves.

The reader comes back more than ten seconds after delivery: earlier, the open would
count as a machine's (an image proxy fetching on arrival; see the README).
"""

from __future__ import annotations

import re
import time

import pytest
from django.utils import translation
from playwright.sync_api import expect

from tests.e2e.stack import DEMO_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.smtp]

SETUP = """
from datetime import timedelta
from django.utils import timezone
from apps.mailings import sending, services
from apps.mailings.models import Client, Mailing, Message
from apps.users.models import User
owner = User.objects.get(email="user@example.com")
reader = Client.objects.create(owner=owner, email="{reader}", full_name="Rita Reader")
message = Message.objects.create(
    owner=owner,
    subject="Tracked ({lang})",
    body="",
    body_html=(
        '<p>Hello {{{{ first_name }}}}! <a href="{site}/blog/">Read the blog</a></p>'
    ),
    language="{lang}",
)
services.grant_owner_permissions(owner=owner, objects=[reader, message])
now = timezone.now()
mailing = services.mailing_save(
    mailing=Mailing(
        owner=owner,
        message=message,
        start_at=now - timedelta(minutes=1),
        end_at=now + timedelta(days=1),
    )
)
mailing.clients.set([reader])
sending.run_mailing_now(mailing.pk)
"""


def tr(lang: str, text: str) -> str:
    with translation.override(lang):
        return str(translation.gettext(text))


def test_reader_opens_and_clicks_and_the_report_moves(people, stack, lang, shot):
    reader = f"rita.{lang}@example.org"
    stack.manage("shell", "-c", SETUP.format(reader=reader, lang=lang, site=stack.url))
    mail = stack.wait_for_mail(reader, subject=f"Tracked ({lang})")[0]
    html = mail.get_body(("html",)).get_content()
    pixel = re.search(r'src="([^"]+/t/o/[^"]+\.gif)"', html).group(1)
    link = re.search(r'href="([^"]+/t/c/[^"]+/)"', html).group(1)
    assert pixel.startswith(stack.url) and link.startswith(stack.url)
    time.sleep(11)  # a person reads it later than a proxy would fetch it

    # The reader's mail program shows the message: its images load (the pixel
    # among them), and the reader follows the link.
    page = people.page("reader")
    with page.expect_response(lambda r: "/t/o/" in r.url) as loaded:
        page.set_content(html)
    assert loaded.value.status == 200
    assert loaded.value.headers["content-type"] == "image/gif"
    shot("message")
    page.locator(f"a[href='{link}']").click()
    expect(page).to_have_url(re.compile(r"/blog/$"))
    shot("followed-link")
    stack.manage("flush_tracking")  # the cluster's minute, now

    page = people.page("owner")
    page.goto("/admin/login/")
    form = page.locator("#login-form")
    form.locator("input[name=username]").fill("user@example.com")
    form.locator("input[name=password]").fill(DEMO_PASSWORD)
    form.locator("button[type=submit]").click()
    page.goto(f"/admin/mailings/mailing/?q=Tracked+({lang})")
    page.locator("#result_list tbody tr a[href*='/change/']").first.click()
    page.locator("a[href$='/report/']").first.click()
    expect(page).to_have_url(re.compile(r"/admin/reports/mailing/\d+/$"))

    def figure(label: str) -> str:
        row = page.locator("table.report-figures tr", has_text=tr(lang, label))
        return row.first.locator("td").nth(1).inner_text().strip()

    deadline = time.monotonic() + 30
    while figure("Opened (unique)") != "1" and time.monotonic() < deadline:
        time.sleep(1)
        stack.manage("flush_tracking")
        page.reload()
    assert figure("Sent") == "1"
    assert figure("Opened (unique)") == "1"
    assert figure("Clicked (unique)") == "1"
    expect(page.locator("table.report-links")).to_contain_text(f"{stack.url}/blog/")
    shot("report")
