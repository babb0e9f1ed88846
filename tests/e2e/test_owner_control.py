"""Browser journeys of issue 15 (points 1, 2 and 5), in English and in Russian.

The demo owner duplicates a demo mailing, saves the copy to start now and watches
its run end on the page without reloading it; "Send now" on the finished one-off
asks to send it *again*; the owner pauses it; a manager disables it and the owner
is told so, with nothing offered to send. A window in the past is refused.

Screenshots: tests/e2e/artifacts/<language>/owner_control-<step>.png.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.stack import DEMO_PASSWORD
from tests.e2e.test_journeys import login, pick

pytestmark = [pytest.mark.browser, pytest.mark.smtp]

OWNER = "user@example.com"
MANAGER = "manager@example.com"
DEMO_SUBJECT = "Summer sale starts on Monday"  # a demo mailing of 10 clients


def fill_window(page: Page, start: datetime, end: datetime) -> None:
    page.locator("input[name=start_at_0]").fill(start.strftime("%Y-%m-%d"))
    page.locator("input[name=start_at_1]").fill(start.strftime("%H:%M:%S"))
    page.locator("input[name=end_at_0]").fill(end.strftime("%Y-%m-%d"))
    page.locator("input[name=end_at_1]").fill(end.strftime("%H:%M:%S"))


def confirm(page: Page) -> None:
    """Answer the confirmation page of an admin action with its submit button."""
    page.locator("#content form button[type=submit]").last.click()


def owner_page(people) -> Page:
    page = people.page("owner-demo")
    if "/admin/" not in page.url or "/login/" in page.url:
        login(page, OWNER, DEMO_PASSWORD)
    return page


def test_owner_control(people, stack, lang, shot):
    page = owner_page(people)

    # 2. A window wholly in the past is a form error, not a silent "finished".
    page.goto("/admin/mailings/mailing/add/")
    pick(page, "message", "Tip of the day")
    past = datetime.now(UTC) - timedelta(days=3)
    fill_window(page, past, past + timedelta(days=1))
    page.locator("button[name=_save]").click()
    expect(page).to_have_url(re.compile(r"/admin/mailings/mailing/add/$"))
    expect(page.locator(".errornote").first).to_be_visible()
    shot("past-window")

    # 4 (on the way). Duplicate a demo mailing: a paused copy, on its own page.
    page.goto("/admin/mailings/mailing/?q=" + DEMO_SUBJECT.split()[0])
    page.locator("#result_list a[href*='/change/']").first.click()
    page.locator("a[href$='/duplicate/']").first.click()
    confirm(page)
    expect(page.locator("[data-mailing-banner=paused]")).to_be_visible()
    copy_url = re.sub(r"\?.*$", "", page.url)
    assert copy_url.endswith("/change/")
    expect(page.locator("a[href$='/send-now/']")).to_have_count(0)
    shot("copy")

    # 5. Saved to start now: the page follows the run by itself until it ends.
    now = datetime.now(UTC)
    fill_window(page, now - timedelta(minutes=1), now + timedelta(days=1))
    with page.expect_navigation():
        page.locator("button[name=_continue]").click()
    box = page.locator("[data-run-progress]")
    expect(box).to_be_visible()
    polled = box.get_attribute("data-run-progress")
    shot("run-progress")
    if polled:  # still queued or sending when the page came: it asks, then reloads
        with page.expect_response(lambda r: r.url.endswith(polled), timeout=30_000):
            pass
    expect(page.locator("[data-progress=sent]")).to_have_text("10", timeout=60_000)
    expect(page.locator("[data-progress=pending]")).to_have_text("0")
    expect(page.locator("[data-run-progress]")).not_to_have_attribute(
        "data-run-progress", re.compile(".+")
    )
    shot("run-done")

    # 2. "Send now" on the finished one-off asks to send it again, naming the count.
    page.locator("a[href$='/send-now/']").first.click()
    expect(page.locator("body.send-again-confirmation")).to_be_visible()
    expect(page.locator("[data-send-question]")).to_contain_text("10")
    shot("send-again")

    # 1. The owner pauses it: a banner, and nothing to send.
    page.goto(copy_url)
    page.locator("a[href$='/pause/']").first.click()
    confirm(page)
    expect(page.locator("[data-mailing-banner=paused]")).to_be_visible()
    expect(page.locator("a[href$='/send-now/']")).to_have_count(0)
    expect(page.locator("a[href$='/resume/']").first).to_be_visible()
    shot("paused")

    # 1. A manager disables it: the owner is told, and cannot switch it back on.
    manager = people.page("manager-demo")
    if "/admin/" not in manager.url or "/login/" in manager.url:
        login(manager, MANAGER, DEMO_PASSWORD)
    manager.goto(copy_url)
    manager.locator("a[href$='/disable/']").first.click()
    confirm(manager)
    expect(manager.locator("[data-mailing-banner=disabled]")).to_be_visible()

    page = people.page("owner-demo")
    page.goto(copy_url)
    expect(page.locator("[data-mailing-banner=disabled]")).to_be_visible()
    expect(page.locator("a[href$='/send-now/']")).to_have_count(0)
    expect(page.locator("a[href$='/enable/']")).to_have_count(0)
    shot("disabled")
