"""Browser journeys of audiences through a real running Mailshot, in English and in
Russian: an owner imports what Excel writes in a Russian locale (semicolons,
Windows-1251, Russian headers) into a new list through the preview; a visitor
subscribes to that list through its public form, with double opt-in, by the link
of the mail the sink received.

Screenshots: tests/e2e/artifacts/<language>/<journey>-<step>.png.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.stack import DEMO_PASSWORD
from tests.e2e.test_journeys import login, need, save, submit, tr

pytestmark = [pytest.mark.browser, pytest.mark.smtp]

OWNER = "user@example.com"  # the demo data's owner
IMPORT_WAIT = 60_000  # ms: the import runs in the cluster


def addresses(lang: str) -> list[tuple[str, str, str, str]]:
    """(e-mail, full name, comment, city) rows of the owner's spreadsheet."""
    return [
        (f"anna.{lang}@lists.example.org", "Анна Иванова", "с ярмарки", "Москва"),
        (f"oleg.{lang}@lists.example.org", "Олег Петров", "", "Казань"),
        (f"irina.{lang}@lists.example.org", "Ирина Смирнова", "постоянный", "Тверь"),
    ]


def open_list(page: Page, name: str) -> None:
    page.goto("/admin/audiences/clientlist/")
    page.locator("#result_list a", has_text=name).first.click()
    expect(page.locator("input[name=name]")).to_have_value(name)


# --- 1. An Excel CSV (semicolons, Windows-1251) into a new list ---------------------


def test_owner_imports_an_excel_csv_into_a_new_list(
    people, stack, lang, journal, shot, tmp_path
):
    page = people.page("owner")
    login(page, OWNER, DEMO_PASSWORD)
    page.goto("/admin/mailings/client/import/")
    expect(page.locator("a.import-sample")).to_be_visible()

    rows = addresses(lang)
    csv = tmp_path / f"excel-{lang}.csv"
    csv.write_bytes(
        (
            "Эл. почта;ФИО;Комментарий;Город\r\n"
            + "".join(";".join(row) + "\r\n" for row in rows)
        ).encode("cp1251")
    )
    page.locator("input[type=file][name=import_file]").set_input_files(str(csv))
    fmt = page.locator("select[name=format]")
    if fmt.count():
        fmt.select_option(label="csv")
    shot("upload")
    submit(page)

    # The preview: read as Windows-1251 with semicolons, Russian headers mapped,
    # the city an attribute; nothing written yet.
    expect(page.locator(".import-detected")).to_contain_text("Windows-1251")
    expect(page.locator("select[name=delimiter]")).to_have_value(";")
    expect(page.locator("select[name=column_0]")).to_have_value("email")
    expect(page.locator("select[name=column_1]")).to_have_value("full_name")
    expect(page.locator("select[name=column_2]")).to_have_value("comment")
    expect(page.locator("select[name=column_3]")).to_have_value("attribute")
    expect(page.locator("input[name=attr_3]")).to_have_value("город")
    expect(page.locator(".import-first-rows")).to_contain_text("Анна Иванова")
    expect(page.locator("[data-count=created]")).to_have_text("3")
    expect(page.locator("[data-count=invalid]")).to_have_text("0")

    list_name = f"Ярмарка ({lang})"
    page.locator("input[name=new_list]").fill(list_name)
    shot("preview")
    page.locator("button[name=_import]").click()

    # The job's page follows the import and goes on to the client list.
    expect(page).to_have_url(
        re.compile(r"/admin/mailings/client/"), timeout=IMPORT_WAIT
    )
    for email, _name, _comment, _city in rows:
        expect(page.locator("#result_list")).to_contain_text(email)
    shot("clients")

    page.goto("/admin/audiences/clientlist/")
    row = page.locator("#result_list tr", has_text=list_name)
    expect(row).to_contain_text("3")
    shot("lists")
    journal["list_name"] = list_name


# --- 2. A visitor subscribes through the public form, with double opt-in -----------


def test_visitor_subscribes_with_double_opt_in(people, stack, lang, journal, shot):
    list_name = need(journal, "list_name")
    page = people.page("owner")
    open_list(page, list_name)
    page.locator("input[name=is_public]").check()
    page.locator("input[name=double_opt_in]").check()
    save(page)
    open_list(page, list_name)
    link = page.locator("a.public-form-link")
    expect(link).to_be_visible()
    expect(page.locator(".embed-snippet")).to_contain_text("<form action=")
    shot("list")
    form_url = link.get_attribute("href")
    assert form_url and "/subscribe/" in form_url

    visitor = people.page("visitor")
    visitor.goto(form_url)
    expect(visitor.locator("h1")).to_contain_text(list_name)
    email = f"visitor.{lang}@lists.example.org"
    form = visitor.locator("form.subscribe-form")
    form.locator("input[name=email]").fill(email)
    form.locator("input[name=full_name]").fill("Вера" if lang == "ru" else "Vera")
    shot("form", visitor)
    form.locator("button[type=submit]").click()
    expect(visitor.locator(".subscribe-done")).to_contain_text(
        tr(lang, "Check your mailbox")
    )
    shot("check-mailbox", visitor)

    [mail] = stack.wait_for_mail(email)
    assert list_name in str(mail["Subject"])
    text = mail.get_body(("plain",)).get_content()
    found = re.search(r"https?://\S+/subscribe/confirm/\S+/", text)
    assert found, text
    visitor.goto(found.group(0))
    visitor.locator(
        "form button[type=submit]", has_text=tr(lang, "Yes, subscribe me")
    ).click()
    expect(visitor.locator(".subscribe-confirmed")).to_contain_text(email)
    shot("confirmed", visitor)

    journal["visitor"] = email
    # The owner's list counts the new subscriber.
    page.goto("/admin/audiences/clientlist/")
    expect(page.locator("#result_list tr", has_text=list_name)).to_contain_text("4")
    shot("subscribed")


# --- 3. A mailing to the list and a segment; one recipient leaves ------------------


def test_owner_sends_to_list_and_segment_and_an_unsubscribe_holds(
    people, stack, lang, journal, shot
):
    from datetime import UTC, datetime, timedelta

    from tests.e2e.test_journeys import pick, unsubscribe_link

    list_name = need(journal, "list_name")
    need(journal, "visitor")
    page = people.page("owner")

    # A segment that overlaps the list: one delivery per address all the same.
    segment = f"Москва ({lang})"
    page.goto("/admin/audiences/segment/add/")
    page.locator("input[name=name]").fill(segment)
    page.locator("select[name=rules-0-condition]").select_option("attr_equals")
    page.locator("input[name=rules-0-field]").fill("город")
    page.locator("input[name=rules-0-value]").fill("Москва")
    shot("segment")
    save(page)

    subject = f"Lists news ({lang})"
    page.goto("/admin/mailings/message/add/")
    page.locator("input[name=subject]").fill(subject)
    page.locator("textarea[name=body]").fill("Hello {{ full_name }}!\n")
    save(page)

    now = datetime.now(UTC)
    start, end = now - timedelta(minutes=1), now + timedelta(days=7)
    page.goto("/admin/mailings/mailing/add/")
    pick(page, "message", subject)
    page.locator("select[name=lists]").select_option(label=list_name)
    page.locator("select[name=segments]").select_option(label=segment)
    page.locator("input[name=start_at_0]").fill(start.strftime("%Y-%m-%d"))
    page.locator("input[name=start_at_1]").fill(start.strftime("%H:%M:%S"))
    page.locator("input[name=end_at_0]").fill(end.strftime("%Y-%m-%d"))
    page.locator("input[name=end_at_1]").fill(end.strftime("%H:%M:%S"))
    page.locator("select[name=periodicity]").select_option("daily")
    # The count before saving: three imported and the visitor, Anna once.
    expect(page.locator("[data-recipient-count]")).to_contain_text("4")
    shot("mailing-form")
    save(page)
    mailing_url = (
        page.locator("#result_list tr", has_text=subject)
        .locator("a[href*='/change/']")
        .first.get_attribute("href")
    )
    assert mailing_url

    recipients = [row[0] for row in addresses(lang)] + [journal["visitor"]]
    for address in recipients:
        assert len(stack.wait_for_mail(address, subject=subject)) == 1

    # Anna leaves by the link of her mail.
    anna = recipients[0]
    [mail] = stack.wait_for_mail(anna, subject=subject)
    leaving = people.page("recipient")
    leaving.goto(unsubscribe_link(mail))
    leaving.locator("section.unsubscribe form button[type=submit]").click()
    expect(leaving.locator("section.unsubscribe h1")).to_have_text(
        tr(lang, "You are unsubscribed")
    )
    shot("unsubscribed", leaving)

    # The owner sees her suppressed; the next run skips her.
    page = people.page("owner")
    page.goto("/admin/audiences/suppression/")
    expect(page.locator("#result_list")).to_contain_text(anna)
    shot("suppressed")
    page.goto(mailing_url)
    page.locator("a[href*='send-now']").first.click()
    page.locator("form button[type=submit]", has_text=tr(lang, "Yes, send now")).click()
    for address in recipients[1:]:
        stack.wait_for_mail(address, subject=subject, count=2)
    assert len(stack.wait_for_mail(anna, subject=subject)) == 1
