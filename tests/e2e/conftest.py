"""Browser journeys: Debian's chromium driven by Playwright against ``live_server``.

Fixtures here: ``browser`` (one chromium per session), ``page`` (a fresh context and
page per test, with a screenshot helper) and ``site`` (the live server, with mail
links pointing at it).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from apps.core.smtpsink import Received

if TYPE_CHECKING:
    from playwright.sync_api import Page, Response

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

# Every Content-Security-Policy violation fires a `securitypolicyviolation` event in
# the page; it is logged as an error, and the tests fail on any (the policy must be
# tight and still let the site, the admin and CKEditor work).
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(
    `CSP violation: ${event.effectiveDirective} blocked ` +
    `${event.blockedURI || "inline code"} in ${event.sourceFile || location.href}` +
    `:${event.lineNumber}`
  );
});
"""


def guard_csp(context, violations: list[str]) -> None:
    """Collect the context's Content-Security-Policy violations into ``violations``
    (the page's own event, and chromium's "Refused to …" console errors)."""
    context.add_init_script(CSP_LISTENER)

    def on_console(message) -> None:
        text = message.text
        if message.type == "error" and (
            "CSP violation" in text or "Content Security Policy" in text
        ):
            violations.append(
                f"{text} (page {message.page.url if message.page else '?'})"
            )

    context.on("console", on_console)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)")
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
    violations: list[str] = []
    guard_csp(context, violations)
    page = context.new_page()
    yield page
    context.close()
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(
        violations
    )


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


# --- Journeys against a real stack (test_journeys.py) ------------------------------

LANGUAGES = {"en": "en-US", "ru": "ru-RU"}
# In a full-page screenshot the admin's sticky bars (save buttons, list footer) would
# sit over the middle of the page; they are put back in the flow for the picture.
# Through each element's style object: Playwright's `style=` option adds a <style>
# element, which the site's Content-Security-Policy (rightly) refuses.
UNSTICK = """(unstick) => {
  for (const el of document.querySelectorAll("#submit-row, .lg\\\\:sticky")) {
    if (unstick) el.style.setProperty("position", "static", "important");
    else el.style.removeProperty("position");
  }
}"""


@pytest.fixture(scope="session")
def stack():
    """Web server + qcluster + SMTP sink on a fresh database with the demo data."""
    from tests.e2e.stack import Stack

    for lang in LANGUAGES:  # this run's screenshots only
        shutil.rmtree(ARTIFACTS / lang, ignore_errors=True)
    started = time.monotonic()
    running = Stack().start()
    print(
        f"\ne2e stack on {running.url} ({running.backend}), "
        f"ready in {time.monotonic() - started:.1f} s"
    )
    yield running
    running.stop()


class People:
    """One browser context per person and language, kept across the journeys of that
    language (a session cut off in journey 5 is the one opened in journey 2)."""

    def __init__(self, browser, stack, lang: str) -> None:
        self.browser, self.stack, self.lang = browser, stack, lang
        self.pages: dict[str, Page] = {}
        self.current: Page | None = None
        self.broken: list[str] = []  # 4xx/5xx answers: missing images, scripts, …
        self.violations: list[str] = []  # Content-Security-Policy violations

    def page(self, who: str) -> Page:
        if who not in self.pages:
            context = self.browser.new_context(
                locale=LANGUAGES[self.lang],
                viewport={"width": 1280, "height": 900},
                base_url=self.stack.url,
            )
            context.set_default_timeout(15_000)
            guard_csp(context, self.violations)

            def note_broken(response: Response) -> None:
                if response.status >= 400:
                    self.broken.append(
                        f"{response.status} {response.request.method} {response.url}"
                    )

            context.on("response", note_broken)
            self.pages[who] = context.new_page()
        self.current = self.pages[who]
        return self.current

    def close(self) -> None:
        for page in self.pages.values():
            page.context.close()


@pytest.fixture(scope="module", params=list(LANGUAGES))
def lang(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def people(browser, stack, lang):
    crowd = People(browser, stack, lang)
    yield crowd
    crowd.close()


@pytest.fixture(autouse=True)
def _nothing_broken(request):
    """Every journey ends with no page, image, script or style answered 4xx/5xx, and
    no Content-Security-Policy violation."""
    yield
    if "people" in request.fixturenames:
        crowd = request.getfixturevalue("people")
        broken, crowd.broken[:] = list(crowd.broken), []
        violations, crowd.violations[:] = list(crowd.violations), []
        assert not broken, "broken answers:\n" + "\n".join(broken)
        assert not violations, "Content-Security-Policy violations:\n" + "\n".join(
            violations
        )


@pytest.fixture(scope="module")
def journal(lang) -> dict:
    """What one journey leaves for the next ones of the same language."""
    return {"lang": lang}


@pytest.fixture
def shot(people, lang, request) -> Callable[[str], Path]:
    """shot(step) -> tests/e2e/artifacts/<lang>/<journey>-<step>.png of the page last
    used; the journey is the test's name without its ``test_`` prefix."""
    journey = request.node.originalname.removeprefix("test_")

    def _shot(step: str, page=None) -> Path:
        target = page or people.current
        folder = ARTIFACTS / lang
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{journey}-{step}.png"
        target.evaluate(UNSTICK, True)
        try:
            target.screenshot(path=str(path), full_page=True)
        finally:
            target.evaluate(UNSTICK, False)
        return path

    return _shot


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed and "people" in item.funcargs:
        crowd = item.funcargs["people"]
        lines = []
        for who, page in crowd.pages.items():
            try:
                folder = ARTIFACTS / crowd.lang
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"FAILED-{item.originalname}-{who}.png"
                page.screenshot(path=str(path), full_page=True)
                lines.append(f"{who}: {page.url}  (screenshot {path})")
            except Exception as exc:  # noqa: BLE001 - the report must still be made
                lines.append(f"{who}: no screenshot ({exc})")
        if lines:
            report.sections.append(("browser pages at failure", "\n".join(lines)))
    return report
