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

    # The owner's list counts the new subscriber.
    page.goto("/admin/audiences/clientlist/")
    expect(page.locator("#result_list tr", has_text=list_name)).to_contain_text("4")
    shot("subscribed")
