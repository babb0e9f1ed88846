"""Every role's admin pages in a real browser, in English and Russian (issue 15,
points 8 and 9): no horizontal overflow at a phone's 390 px nor at a laptop's
1366 px, no script error on any page (Unfold's file-input helper used to throw on
CKEditor's upload), and an image centred in the editor is centred on the site too.

Run alone: ``pytest tests/e2e/test_roles_layout.py -m browser``.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, LANGUAGES, guard_csp
from tests.e2e.stack import DEMO_PASSWORD, SUPERUSER

pytestmark = [pytest.mark.browser]

ROLES = {
    "owner": ("user@example.com", DEMO_PASSWORD),
    "manager": ("manager@example.com", DEMO_PASSWORD),
    "editor": ("editor@example.com", DEMO_PASSWORD),
    "superuser": SUPERUSER,
}
WIDTHS = [390, 1366]
# Pages that only do something (log out, run a task) or are not the admin's.
SKIP = re.compile(r"/logout/|/admin/r/|/jsi18n/|/password/|\?|#")
# How far a page may be wider than the window: a pixel of rounding.
SLACK = 1


class Visit:
    """One person's browser in one language and width; records page errors."""

    def __init__(self, browser, stack, lang: str, width: int) -> None:
        self.context = browser.new_context(
            locale=LANGUAGES[lang],
            viewport={"width": width, "height": 900},
            base_url=stack.url,
        )
        self.context.set_default_timeout(15_000)
        self.violations: list[str] = []
        guard_csp(self.context, self.violations)
        self.errors: list[str] = []
        self.page: Page = self.context.new_page()
        self.page.on(
            "pageerror", lambda error: self.errors.append(f"{self.page.url}: {error}")
        )

    def login(self, email: str, password: str) -> None:
        page = self.page
        page.goto("/admin/login/")
        form = page.locator("#login-form")
        form.locator("input[name=username]").fill(email)
        form.locator("input[name=password]").fill(password)
        form.locator("button[type=submit]").click()
        expect(page).to_have_url(re.compile(r"/admin/$"))

    def overflow(self) -> int:
        """How many pixels the page is wider than its window."""
        return self.page.evaluate(
            "() => document.documentElement.scrollWidth"
            " - document.documentElement.clientWidth"
        )

    def close(self) -> None:
        self.context.close()


def admin_links(page: Page) -> list[str]:
    """The admin pages a person reaches from the dashboard and each list: the menu,
    each list's add form and first object."""
    found: list[str] = []

    def collect(selector: str) -> list[str]:
        hrefs = page.locator(selector).evaluate_all(
            "links => links.map(a => a.getAttribute('href'))"
        )
        return [
            urlparse(h).path
            for h in hrefs
            if h and h.startswith("/admin/") and not SKIP.search(h)
        ]

    page.goto("/admin/")
    menu = sorted(set(collect("#nav-sidebar a, nav a, aside a")))
    for url in menu:
        if url not in found:
            found.append(url)
        if url.count("/") != 4:  # /admin/<app>/<model>/ only
            continue
        page.goto(url)
        for extra in collect("a.addlink, #result_list tbody tr a")[:2]:
            if extra not in found:
                found.append(extra)
    return found


@pytest.fixture(scope="module")
def pages_by_role(browser, stack) -> dict[str, list[str]]:
    """Each role's admin pages, found once (in English, at full width)."""
    found = {}
    for role, (email, password) in ROLES.items():
        visit = Visit(browser, stack, "en", 1366)
        try:
            visit.login(email, password)
            found[role] = admin_links(visit.page)
        finally:
            visit.close()
    return found


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_admin_pages_fit_the_window_without_page_errors(
    browser, stack, pages_by_role, lang, role, width
):
    visit = Visit(browser, stack, lang, width)
    wide: list[str] = []
    try:
        visit.login(*ROLES[role])
        pages = ["/admin/", *(p for p in pages_by_role[role] if p != "/admin/")]
        assert len(pages) > 2, pages
        for url in pages:
            response = visit.page.goto(url)
            assert response is not None and response.status < 400, url
            visit.page.wait_for_load_state("load")
            extra = visit.overflow()
            if extra > SLACK:
                wide.append(f"{url}: {extra} px wider than {width} px")
                folder = ARTIFACTS / "layout"
                folder.mkdir(parents=True, exist_ok=True)
                name = re.sub(r"\W+", "-", url).strip("-") or "index"
                visit.page.screenshot(
                    path=str(folder / f"{lang}-{role}-{width}-{name}.png"),
                    full_page=True,
                )
    finally:
        visit.close()
    assert not wide, "horizontal overflow:\n" + "\n".join(wide)
    assert not visit.errors, "page errors:\n" + "\n".join(visit.errors)
    assert not visit.violations, "\n".join(visit.violations)


def centre_offset(page: Page, frame_selector: str, index: int) -> float:
    """How far (px) the centre of the ``index``-th figure's image lies from the
    centre of the text column ``frame_selector``."""
    return page.evaluate(
        """([frame, index]) => {
            const f = document.querySelector(frame);
            const img = f.querySelectorAll("figure.image img")[index];
            const i = img.getBoundingClientRect(), c = f.getBoundingClientRect();
            return Math.abs((i.left + i.width / 2) - (c.left + c.width / 2));
        }""",
        [frame_selector, index],
    )


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_an_editor_uploads_and_centres_an_image_and_the_site_shows_it_centred(
    browser, stack, lang, tmp_path
):
    from PIL import Image

    # Narrower than the text column, so that "centred" and "left" differ.
    small = tmp_path / "small.png"
    Image.new("RGB", (240, 160), (40, 120, 200)).save(small)
    visit = Visit(browser, stack, lang, 1366)
    page = visit.page
    try:
        visit.login(*ROLES["editor"])
        page.goto("/admin/blog/post/add/")
        title = f"Centred image {lang}"
        page.locator("input[name=title]").fill(title)
        editable = page.locator(".ck-editor__editable")
        editable.click()
        editable.type("Text above the picture. ")
        upload = page.locator(".ck-file-dialog-button input[type=file]")
        images = editable.locator("figure.image img[src*='/media/']")
        # The first image as placed (a block image: centred), the second centred
        # with the image toolbar's button.
        upload.set_input_files(str(small))
        expect(images).to_have_count(1, timeout=20_000)
        page.keyboard.press("ArrowDown")
        page.keyboard.press("End")
        page.keyboard.press("Enter")
        editable.type("Text between the pictures. ")
        upload.set_input_files(str(small))
        expect(images).to_have_count(2, timeout=20_000)
        images.nth(1).click()
        styles = page.locator(".ck-balloon-panel_visible .ck-toolbar button:visible")
        styles.nth(3).click()  # alternative text, left, right, centre
        expect(editable.locator("figure.image-style-align-center")).to_have_count(1)
        in_editor = [centre_offset(page, ".ck-editor__editable", n) for n in range(2)]
        publish = page.locator("input[name=is_published]")
        if not publish.is_checked():
            publish.check()
        page.locator("button[name=_save]").click()
        expect(page).to_have_url(re.compile(r"/admin/blog/post/$"))

        page.goto("/blog/")
        page.locator("article.post-card", has_text=title).locator("a").first.click()
        expect(page.locator("h1")).to_have_text(title)
        on_site = [centre_offset(page, ".prose", n) for n in range(2)]
    finally:
        visit.close()
    assert max(in_editor) < 5, f"off centre in the editor (px): {in_editor}"
    assert max(on_site) < 5, f"off centre on the site (px): {on_site}"
    assert not visit.errors, "page errors:\n" + "\n".join(visit.errors)
