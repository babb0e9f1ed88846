"""Browser journeys: Debian's chromium driven by Playwright against ``live_server``.

Fixtures here: ``browser`` (one chromium per session), ``page`` (a fresh context and
page per test, with a screenshot helper) and ``site`` (the live server, with mail
links pointing at it).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from apps.core.smtpsink import Received

# Playwright's sync API runs an event loop in this thread, which makes Django's ORM
# refuse to run in the test code ("async unsafe"); the test code never is async.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("MAILSHOT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(
        locale="en-US", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot(page, request) -> Callable[[str], Path]:
    """screenshot(name) -> path of a PNG under tests/e2e/artifacts/."""

    def _shot(name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{request.node.name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _shot


@pytest.fixture
def site(live_server, settings, transactional_db):
    """The live server, with the links in mail pointing at it."""
    from django.core.cache import cache

    settings.SITE_URL = live_server.url
    # Ids repeat after a flush; forget the per-account mail limits of earlier tests.
    cache.clear()
    return live_server


@pytest.fixture
def wait_for_mail(smtp_sink) -> Callable[..., Received]:
    """wait_for_mail(to) -> the first message the sink received for that address."""

    def _wait(to: str, timeout: float = 15) -> Received:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for received in smtp_sink.messages:
                if to in received.envelope_to:
                    return received
            time.sleep(0.1)
        raise AssertionError(f"no mail for {to} within {timeout} s")

    return _wait
