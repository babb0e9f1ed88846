"""Browser journey (en, ru): an HTML message with an image, its preview, a test
received at the sink, then the mailing sent and received as HTML.

Runs against Django's live server with the SMTP sink; the queue is synchronous in
tests, so "Send now" sends within the request that confirms it.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone, translation
from playwright.sync_api import expect

from tests.e2e.conftest import guard_csp

pytestmark = [pytest.mark.browser, pytest.mark.smtp]

IMAGE = (
    Path(__file__).resolve().parents[2] / "fixtures" / "media" / "blog" / "demo-2.jpg"
)
LOCALES = {"en": "en-US", "ru": "ru-RU"}


def tr(lang: str, text: str) -> str:
    with translation.override(lang):
        return str(translation.gettext(text))


def mail_for(sink, address: str, subject_part: str, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for received in sink.messages:
            if address in received.envelope_to and subject_part in str(
                received.message["Subject"]
            ):
                return received.message
        time.sleep(0.2)
    raise AssertionError(f"no mail for {address} ({subject_part!r}) within {timeout} s")


@pytest.mark.parametrize("lang", list(LOCALES))
def test_owner_writes_previews_tests_and_sends_an_html_message(
    browser, site, smtp_sink, settings, tmp_path, lang
):
    from apps.mailings.models import Mailing, Message
    from apps.users import roles
    from tests.factories import PASSWORD, ClientFactory, MailingFactory, UserFactory

    settings.MEDIA_ROOT = tmp_path / "media"
    owner = UserFactory(email=f"writer.{lang}@example.com", group=roles.USERS)
    reader = ClientFactory(
        owner=owner, email=f"reader.{lang}@example.org", full_name="Ada Lovelace"
    )
    context = browser.new_context(
        locale=LOCALES[lang], viewport={"width": 1280, "height": 900}, base_url=site.url
    )
    context.set_default_timeout(20_000)
    violations: list[str] = []
    guard_csp(context, violations)
    page = context.new_page()
    try:
        page.goto("/admin/login/")
        form = page.locator("#login-form")
        form.locator("input[name=username]").fill(owner.email)
        form.locator("input[name=password]").fill(PASSWORD)
        form.locator("button[type=submit]").click()
        expect(page).to_have_url(re.compile(r"/admin/$"))

        # An HTML message with an uploaded image, in the editor.
        subject = f"Spring news for {{{{ first_name }}}} ({lang})"
        page.goto("/admin/mailings/message/add/")
        expect(page.locator("select[name=language]")).to_have_value(lang)
        page.locator("input[name=subject]").fill(subject)
        editable = page.locator(".ck-editor__editable")
        editable.click()
        editable.type("Hello {{ full_name }}, our catalogue is out. ")
        page.locator(".ck-file-dialog-button input[type=file]").set_input_files(
            str(IMAGE)
        )
        expect(editable.locator("img[src*='/media/mail/']")).to_be_visible()
        page.locator("button[name=_save]").click()
        expect(page.locator(".errornote, .errorlist")).to_have_count(0)
        message = Message.objects.get(owner=owner)
        assert f'src="{site.url}/media/mail/' in message.body_html

        # Its preview, for the client picked by e-mail.
        page.goto(
            f"/admin/mailings/message/{message.pk}/preview/?client={reader.email}"
        )
        expect(page.locator("#preview-headers")).to_contain_text(
            f"Spring news for Ada ({lang})"
        )
        expect(page.locator("#preview-text")).to_contain_text("Hello Ada Lovelace")
        frame = page.frame_locator("#preview-html")
        expect(frame.locator("body")).to_contain_text("Hello Ada Lovelace")
        expect(frame.locator("img")).to_have_count(1)

        # A test to me, at the sink.
        send = page.locator("#send-test")
        send.scroll_into_view_if_needed()
        send.click()
        expect(page.locator("body")).to_contain_text(
            tr(lang, "A test was sent to %(address)s.") % {"address": owner.email}
        )
        test = mail_for(smtp_sink, owner.email, "[Test]")
        assert test.get_content_type() == "multipart/alternative"
        html = test.get_body(("html",)).get_content()
        assert f'src="{site.url}/media/mail/' in html
        assert "Hello Ada Lovelace" in html

        # The mailing, sent now from its page.
        now = timezone.now()
        mailing = MailingFactory(
            owner=owner,
            message=message,
            start_at=now + timedelta(days=1),
            end_at=now + timedelta(days=8),
        )
        mailing.clients.add(reader)
        Mailing.objects.filter(pk=mailing.pk).update(
            start_at=now - timedelta(minutes=1)
        )
        page.goto(f"/admin/mailings/mailing/{mailing.pk}/preview/")
        expect(page.locator("#preview-headers")).to_contain_text("List-Unsubscribe")
        page.goto(f"/admin/mailings/mailing/{mailing.pk}/send-now/")
        page.locator(
            "#content form button[type=submit], form button[type=submit]"
        ).last.click()
        received = mail_for(smtp_sink, reader.email, f"({lang})")
        assert str(received["Subject"]) == f"Spring news for Ada ({lang})"
        assert received.get_content_type() == "multipart/alternative"
        body = received.get_body(("html",)).get_content()
        assert f'<html lang="{lang}"' in body and "Hello Ada Lovelace" in body
        assert "Hello Ada Lovelace" in received.get_body(("plain",)).get_content()
    finally:
        context.close()
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(
        violations
    )
