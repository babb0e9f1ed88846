"""Browser journeys through a real running Mailshot, in English and in Russian.

One stack (web server, qcluster, SMTP sink on a fresh database with the demo data) is
shared by every journey; each language has its own people and addresses. The journeys
of one language build on each other, in order: the person who registers in journey 2
is the one who sends in 3 and 4 and whom the manager blocks in 5.

Screenshots of every step: tests/e2e/artifacts/<language>/<journey>-<step>.png.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.utils import translation
from playwright.sync_api import Page, expect

from apps.users import session_notices
from tests.e2e.stack import DEMO_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.smtp]

PASSWORD = "Plum-orchard-47-lanterns"
IMAGE = Path(__file__).resolve().parents[2] / "fixtures" / "media" / "blog"


def tr(lang: str, text: str) -> str:
    """``text`` as the site shows it in ``lang`` (from the project's own catalogue)."""
    with translation.override(lang):
        return str(translation.gettext(text))


def label(lang: str, choice) -> str:
    with translation.override(lang):
        return str(choice.label)


def owner_email(lang: str) -> str:
    return f"e2e.owner.{lang}@example.com"


def need(journal: dict, key: str):
    if key not in journal:
        pytest.skip(f"an earlier journey of this language failed (no {key!r})")
    return journal[key]


def login(page: Page, email: str, password: str) -> None:
    page.goto("/admin/login/")
    form = page.locator("#login-form")
    form.locator("input[name=username]").fill(email)
    form.locator("input[name=password]").fill(password)
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))


def save(page: Page) -> None:
    page.locator("button[name=_save]").click()
    expect(page.locator(".errornote, .errorlist")).to_have_count(0)


def submit(page: Page) -> None:
    """Press the (last) submit button of the page's own form, not the header's."""
    page.locator(
        "#content form button[type=submit], form button[type=submit]"
    ).last.click()


def pick(page: Page, field: str, text: str) -> None:
    """Choose ``text`` in the select2 widget of ``field`` as a person would."""
    page.locator(f"select[name={field}] + .select2 .select2-selection").click()
    search = page.locator(
        ".select2-container--open .select2-search__field, "
        f"select[name={field}] + .select2 .select2-search__field"
    ).first
    search.fill(text)
    option = page.locator(".select2-results__option", has_text=text).first
    option.click()


def poll(page: Page, stack, path: str, ready, what: str, timeout: float = 60):
    """Reload ``path`` until ``ready(page)`` is true; the cluster's log on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        page.goto(path)
        if ready(page):
            return
        if time.monotonic() > deadline:
            pytest.fail(
                f"{what}: not seen on {path} within {timeout:.0f} s.\n"
                f"qcluster log:\n{stack.log_tail('qcluster')}"
            )
        time.sleep(1)


def loaded(img) -> bool:
    """Whether an <img> (scrolled to, as lazy images load only then) has loaded."""
    img.scroll_into_view_if_needed()
    return img.evaluate(
        """i => i.complete && i.naturalWidth ? true : new Promise(done => {
            i.addEventListener("load", () => done(i.naturalWidth > 0));
            i.addEventListener("error", () => done(false));
            setTimeout(() => done(i.naturalWidth > 0), 10000);
        })"""
    )


def stat(page: Page, name: str) -> int:
    return int(page.locator(f"[data-stat={name}]").inner_text().strip())


def unsubscribe_link(message) -> str:
    header = str(message["List-Unsubscribe"])
    found = re.search(r"<(https?://[^>]+)>", header)
    assert found, f"no link in List-Unsubscribe: {header!r}"
    return found.group(1)


# --- 1. A visitor reads the home page and a post ------------------------------------


def test_visitor_reads_home_and_post(people, stack, lang, journal, shot):
    page = people.page("visitor")
    page.goto("/")
    for name in ("mailings_total", "mailings_active", "clients_unique"):
        expect(page.locator(f"[data-stat={name}]")).to_have_text(re.compile(r"^\d+$"))
    assert stat(page, "mailings_total") >= 3
    assert stat(page, "clients_unique") >= 10
    journal["home_stats"] = {
        name: stat(page, name) for name in ("mailings_total", "clients_unique")
    }
    if lang == "ru":
        expect(page.get_by_role("link", name="Блог").first).to_be_visible()
        expect(page.locator("html")).to_have_attribute("lang", "ru")
    cards = page.locator("article.post-card")
    expect(cards).to_have_count(3)
    shot("home")

    title = cards.first.locator("h3 a")
    post_title = title.inner_text()
    title.click()
    expect(page).to_have_url(re.compile(r"/blog/[\w-]+/$"))
    expect(page.locator("h1")).to_have_text(post_title)
    image = page.locator("article img").first
    expect(image).to_be_visible()
    assert loaded(image), "the post's image does not load"
    shot("post")


# --- 2. Registration, confirmation from the received mail ---------------------------


def test_register_and_confirm(people, stack, lang, journal, shot):
    email = owner_email(lang)
    page = people.page("owner")
    page.goto("/")
    page.locator("a[href='/accounts/register/']").first.click()
    expect(page).to_have_url(re.compile(r"/accounts/register/$"))
    form = page.locator("#register-form")
    form.locator("input[name=email]").fill(email)
    form.locator("input[name=first_name]").fill("Olga" if lang == "ru" else "Oliver")
    form.locator("input[name=password1]").fill(PASSWORD)
    form.locator("input[name=password2]").fill(PASSWORD)
    shot("form")
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/accounts/register/done/$"))
    shot("done")

    # Not confirmed yet: the admin refuses the login and says why.
    page.goto("/admin/login/")
    login_form = page.locator("#login-form")
    login_form.locator("input[name=username]").fill(email)
    login_form.locator("input[name=password]").fill(PASSWORD)
    login_form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/admin/login/"))
    expect(page.locator(".errornote, .errorlist").first).to_be_visible()
    shot("unconfirmed-login")

    received = stack.wait_for_mail(email)[-1]
    text = received.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"https?://\S+/accounts/confirm/\S+", text).group(0)
    assert link.startswith(stack.url)
    if lang == "ru":
        assert re.search("[а-яА-Я]", str(received["Subject"])), received["Subject"]

    page.goto(link)
    expect(page.get_by_text(email)).to_be_visible()
    # The link alone confirms nothing: the registered password is typed again.
    confirm_form = page.locator("#confirm-form")
    confirm_form.locator("input[name=password]").fill(PASSWORD)
    shot("confirm")
    confirm_form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))
    confirmed = tr(lang, "Your e-mail address is confirmed. Welcome!")
    expect(page.get_by_text(confirmed)).to_be_visible()
    expect(page.locator("h1").first).to_contain_text(tr(lang, "Dashboard"))
    if lang == "ru":
        expect(page.locator("body")).to_contain_text("Клиенты")
    shot("admin")
    journal["owner"] = email


# --- 3. Clients one by one and by CSV, a message, a mailing; the run and the mail ----


def test_owner_sends_a_mailing(people, stack, lang, journal, shot, tmp_path):
    need(journal, "owner")
    page = people.page("owner")
    clients = {
        f"ada.{lang}@example.org": "Ada Lovelace",
        f"alan.{lang}@example.org": "Alan Turing",
        f"grace.{lang}@example.org": "Grace Hopper",
    }
    (ada, ada_name), *imported = clients.items()

    # A new account's dashboard shows the way to a first mailing.
    page.goto("/admin/")
    steps = page.locator("[data-dashboard=getting-started]")
    expect(steps).to_contain_text(tr(lang, "Your first mailing in three steps"))
    shot("getting-started")

    # A client by hand.
    page.goto("/admin/mailings/client/")
    expect(page.locator("#content, main").first).to_contain_text(
        tr(lang, "Nothing here yet")
    )
    shot("clients-empty")
    page.locator("#content a[href$='/mailings/client/add/']").first.click()
    expect(page).to_have_url(re.compile(r"/admin/mailings/client/add/$"))
    page.locator("input[name=email]").fill(ada)
    page.locator("input[name=full_name]").fill(ada_name)
    page.locator("textarea[name=comment]").fill("Met at the e2e fair.")
    shot("client-form")
    save(page)
    expect(page).to_have_url(re.compile(r"/admin/mailings/client/$"))
    expect(page.locator("#result_list")).to_contain_text(ada)
    if lang == "ru":
        expect(page.locator("body")).to_contain_text("Клиенты")

    # Clients from a CSV file.
    csv = tmp_path / "clients.csv"
    csv.write_text(
        "email,full_name,comment\n"
        + "".join(f"{addr},{name},imported\n" for addr, name in imported)
    )
    response = page.goto("/admin/mailings/client/import/")
    if response.status == 404:
        pytest.fail("the CSV import page /admin/mailings/client/import/ is missing")
    page.locator("input[type=file][name=import_file]").set_input_files(str(csv))
    fmt = page.locator("select[name=format]")
    if fmt.count():
        fmt.select_option(label="csv")
    shot("import-form")
    submit(page)
    page.wait_for_load_state()
    # The preview: how the file is read, what the import will do; then "Import".
    confirm = page.locator("button[name=_import]")
    expect(confirm).to_be_visible()
    shot("import-preview")
    confirm.click()
    expect(page.locator(".messagelist, #content").first).to_contain_text("2")
    expect(page).to_have_url(re.compile(r"/admin/mailings/client/"))
    for addr, _ in imported:
        expect(page.locator("#result_list")).to_contain_text(addr)
    shot("clients")

    # A message with placeholders.
    subject = f"News for {{{{ full_name }}}} ({lang})"
    page.goto("/admin/mailings/message/add/")
    page.locator("input[name=subject]").fill(subject)
    page.locator("textarea[name=body]").fill(
        "Dear {{ full_name }},\n\nour spring catalogue is out.\n"
    )
    shot("message-form")
    save(page)

    # A mailing that starts now.
    now = datetime.now(UTC)
    start, end = now - timedelta(minutes=1), now + timedelta(days=7)
    page.goto("/admin/mailings/mailing/add/")
    pick(page, "message", f"({lang})")
    for name in clients.values():
        pick(page, "clients", name)
    page.locator("input[name=start_at_0]").fill(start.strftime("%Y-%m-%d"))
    page.locator("input[name=start_at_1]").fill(start.strftime("%H:%M:%S"))
    page.locator("input[name=end_at_0]").fill(end.strftime("%Y-%m-%d"))
    page.locator("input[name=end_at_1]").fill(end.strftime("%H:%M:%S"))
    page.locator("select[name=periodicity]").select_option("daily")
    shot("mailing-form")
    save(page)
    expect(page).to_have_url(re.compile(r"/admin/mailings/mailing/$"))
    shot("mailings")
    mailing_url = page.locator("#result_list a[href*='/change/']").first.get_attribute(
        "href"
    )
    journal["mailing_url"] = mailing_url

    # The cluster runs it within seconds: the attempt and its deliveries.
    success = label(lang, _attempt_status().SUCCESS)
    row = page.locator("#result_list tbody tr", has_text=success)
    poll(
        page,
        stack,
        "/admin/mailings/attempt/",
        lambda p: row.count() > 0,
        "a successful attempt",
    )
    shot("attempts")
    row.first.locator("a[href*='/change/']").first.click()
    sent = label(lang, _delivery_outcome().SENT)
    for addr in clients:
        expect(page.locator("tr", has_text=addr).last).to_contain_text(sent)
    shot("attempt")

    # The mail at the sink, personalised.
    mail = stack.wait_for_mail(ada, subject=f"({lang})")[0]
    assert str(mail["Subject"]) == f"News for {ada_name} ({lang})"
    assert f"Dear {ada_name}," in mail.get_body(("plain",)).get_content()
    assert "One-Click" in str(mail["List-Unsubscribe-Post"])
    for addr, name in imported:
        assert name in str(stack.wait_for_mail(addr, subject=f"({lang})")[0]["Subject"])
    journal["recipient"] = (ada, mail)

    # The home page counts the new mailing and its recipients.
    people.page("visitor").goto("/")
    before = journal.get("home_stats")
    if before:
        home = people.current
        assert stat(home, "mailings_total") >= before["mailings_total"] + 1
        assert stat(home, "clients_unique") >= before["clients_unique"] + 3
    people.page("owner")


def _attempt_status():
    from apps.mailings.models import Attempt

    return Attempt.Status


def _delivery_outcome():
    from apps.mailings.models import Delivery

    return Delivery.Outcome


# --- 4. A recipient unsubscribes; "send now" skips them ------------------------------


def test_recipient_unsubscribes_and_next_run_skips(people, stack, lang, journal, shot):
    ada, mail = need(journal, "recipient")
    mailing_url = need(journal, "mailing_url")
    link = unsubscribe_link(mail)
    assert link.startswith(stack.url + "/unsubscribe/")
    footer = mail.get_body(("plain",)).get_content()
    assert link in footer, "the footer carries the same link as List-Unsubscribe"

    page = people.page("recipient")
    page.goto(link)
    expect(page.get_by_text(ada)).to_be_visible()
    shot("page")
    page.locator("section.unsubscribe form button[type=submit]").click()
    expect(page.locator("section.unsubscribe h1")).to_have_text(
        tr(lang, "You are unsubscribed")
    )
    shot("done")

    page = people.page("owner")
    page.goto(mailing_url)
    seen = {str(m["Message-ID"]) for m in stack.mail()}
    page.locator("a[href*='send-now']").first.click()
    expect(page).to_have_url(re.compile(r"/send-now/$"))
    expect(page.locator("body.send-now-confirmation")).to_be_visible()
    shot("send-now-confirm")
    page.locator("form button[type=submit]", has_text=tr(lang, "Yes, send now")).click()
    expect(page).to_have_url(re.compile(re.escape(mailing_url) + "$"))
    shot("send-now-queued")

    skipped = label(lang, _delivery_outcome().SKIPPED)
    rows = page.locator("#result_list tbody tr")
    success = label(lang, _attempt_status().SUCCESS).lower()
    poll(
        page,
        stack,
        "/admin/mailings/attempt/",
        lambda p: rows.count() >= 2 and success in rows.first.inner_text().lower(),
        "a second successful attempt",
    )
    shot("attempts")
    rows.first.locator("a[href*='/change/']").first.click()
    expect(page.locator("tr", has_text=ada).last).to_contain_text(skipped)
    shot("attempt")
    new_mail = [m for m in stack.mail() if str(m["Message-ID"]) not in seen]
    assert len(new_mail) == 2, [str(m["To"]) for m in new_mail]
    assert not [m for m in new_mail if ada in str(m["To"])], "Ada got mail anyway"


# --- 5. A manager sees the mailing, cannot edit it, disables it, blocks the user ----


def test_manager_disables_and_blocks(people, stack, lang, journal, shot):
    owner = need(journal, "owner")
    mailing_url = need(journal, "mailing_url")
    page = people.page("manager")
    login(page, "manager@example.com", DEMO_PASSWORD)
    page.goto("/admin/mailings/mailing/")
    expect(page.locator("#result_list")).to_contain_text(f"({lang})")
    shot("mailings")

    page.goto(mailing_url)
    expect(page.locator("button[name=_save]")).to_have_count(0)
    expect(page.locator("input[name=start_at_0]")).to_have_count(0)
    shot("mailing-read-only")
    page.locator("a[href$='/disable/'], a[href*='disable']").first.click()
    shot("disable-confirm")
    submit(page)
    expect(page).to_have_url(re.compile(re.escape(mailing_url) + "$"))
    expect(page.locator("a[href$='/enable/']").first).to_be_visible()
    shot("disabled")

    page.goto("/admin/users/user/")
    page.locator("#result_list a", has_text=owner).first.click()
    page.locator("a[href$='/block/']").first.click()
    shot("block-confirm")
    submit(page)
    shot("blocked")

    # The blocked person's open session no longer works.
    owner_page = people.page("owner")
    owner_page.goto("/admin/mailings/mailing/")
    expect(owner_page).to_have_url(re.compile(r"/admin/login/"))
    # …and the login page says why.
    with translation.override(lang):
        reason = session_notices.reason_text(session_notices.BLOCKED)
    expect(owner_page.locator("body")).to_contain_text(reason)
    shot("owner-cut-off")
    login_form = owner_page.locator("#login-form")
    login_form.locator("input[name=username]").fill(owner)
    login_form.locator("input[name=password]").fill(PASSWORD)
    login_form.locator("button[type=submit]").click()
    expect(owner_page).to_have_url(re.compile(r"/admin/login/"))
    shot("owner-refused")


# --- 6. An editor writes a post with an image; it is on the site --------------------


def test_editor_publishes_a_post(people, stack, lang, journal, shot):
    page = people.page("editor")
    login(page, "editor@example.com", DEMO_PASSWORD)
    title = (
        "Как писать письма, которые читают"
        if lang == "ru"
        else "Writing mail people open"
    )
    page.goto("/admin/blog/post/add/")
    if lang == "ru":  # the editor's own toolbar speaks Russian too
        expect(page.locator(".ck-toolbar")).to_contain_text("Вставить таблицу")
    page.locator("input[name=title]").fill(title)
    editable = page.locator(".ck-editor__editable")
    editable.click()
    editable.type(
        "Короткие темы писем работают лучше всего. "
        if lang == "ru"
        else "Short subject lines work best. "
    )
    page.locator(".ck-file-dialog-button input[type=file]").set_input_files(
        str(IMAGE / "demo-2.jpg")
    )
    expect(editable.locator("img[src*='/media/']")).to_be_visible(timeout=20_000)
    page.locator("input[name=image]").set_input_files(str(IMAGE / "demo-3.jpg"))
    publish = page.locator("input[name=is_published]")
    if not publish.is_checked():
        publish.check()
    shot("form")
    save(page)
    expect(page).to_have_url(re.compile(r"/admin/blog/post/$"))
    shot("saved")

    visitor = people.page("visitor")
    visitor.goto("/blog/")
    newest = visitor.locator("article.post-card").first
    expect(newest).to_contain_text(title)
    shot("blog", visitor)
    newest.locator("h2 a, h3 a").first.click()
    expect(visitor.locator("h1")).to_have_text(title)
    images = visitor.locator("article img")
    expect(images).to_have_count(2)  # the cover and the one in the text
    for img in images.all():
        assert loaded(img), f"{img.get_attribute('src')} does not load"
    shot("post", visitor)

    # The home page shows three random posts: reload until ours is among them.
    for _ in range(40):
        visitor.goto("/")
        if visitor.locator("article.post-card", has_text=title).count():
            break
    else:
        pytest.fail("the new post never appeared among the home page's posts")
    shot("home", visitor)
