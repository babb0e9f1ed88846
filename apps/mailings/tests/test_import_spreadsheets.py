"""Imports of real spreadsheets: what Excel writes (semicolons, Windows-1251, a
BOM, tabs), Russian and English headers, unknown columns as attributes, the preview
with its column mapping and counts before anything is written, a chosen or new
list that never takes back a suppressed or unsubscribed address, the sample file."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.audiences.models import ClientList, Subscription, Suppression
from apps.core import permissions
from apps.mailings import import_files, selectors
from apps.mailings.models import Client, ClientImport
from apps.mailings.tests.test_import_export import confirm_import, preview_data
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

IMPORT_URL = reverse("admin:mailings_client_import")
SAMPLE_URL = reverse("admin:mailings_client_import_sample")

EXCEL_RU = (
    "Эл. почта;ФИО;Комментарий;Город\r\n"
    "anna@example.org;Анна Иванова;с ярмарки;Москва\r\n"
    "oleg@example.org;Олег Петров;;Казань\r\n"
).encode("cp1251")


@pytest.fixture(autouse=True)
def import_dir(settings, tmp_path):
    settings.MAILSHOT_IMPORT_DIR = tmp_path / "imports"


def file_of(data: bytes, name: str = "clients.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, "text/csv")


@pytest.fixture
def preview(django_capture_on_commit_callbacks):
    """preview(http, data) -> (job, the preview page) after uploading ``data``."""

    def _preview(http, data: bytes, name: str = "clients.csv"):
        response = http.post(
            IMPORT_URL, {"format": "0", "import_file": file_of(data, name)}
        )
        assert response.status_code == 302, response.context["form"].errors
        job = ClientImport.objects.latest("pk")
        assert response["Location"] == job.get_absolute_url()
        return job, http.get(response["Location"])

    return _preview


@pytest.fixture
def run_import(django_capture_on_commit_callbacks):
    """run_import(http, job, **changes) -> the response of "Import" (task run)."""

    def _run(http, job, **changes):
        with django_capture_on_commit_callbacks(execute=True):
            return confirm_import(http, job.get_absolute_url(), **changes)

    return _run


# --- reading ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "delimiter"),
    [
        (["email,name", "a@example.org,A"], ","),
        (["email;name;comment", "a@example.org;Smith, A;x"], ";"),
        (["email\tname", "a@example.org\tA, B; C"], "\t"),
        (["email", "a@example.org"], ","),
    ],
)
def test_the_delimiter_is_the_one_that_splits_every_line_alike(lines, delimiter):
    assert import_files.detect_delimiter(lines) == delimiter


@pytest.mark.parametrize(
    ("header", "field"),
    [
        (" E-Mail ", "email"),
        ("EMAIL", "email"),
        ("Почта", "email"),
        ("эл.почта", "email"),
        ("Эл. почта:", "email"),
        ("Full Name", "full_name"),
        ("full_name", "full_name"),
        ("ФИО", "full_name"),
        ("Имя", "full_name"),
        ("Комментарий", "comment"),
        ("Notes", "comment"),
        ("Город", "attr:город"),
        ("Plan type", "attr:plan_type"),
        ("123", ""),
        ("", ""),
    ],
)
def test_headers_are_recognised_in_english_and_russian(header, field):
    assert import_files.column_field(header) == field


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (b"email\na@example.org\n", "utf-8"),
        ("\ufeffemail,ФИО\na@example.org,Я\n".encode(), "utf-8-sig"),
        ("email;ФИО\na@example.org;Я\n".encode("cp1251"), "cp1251"),
    ],
)
def test_the_encoding_is_utf8_when_it_decodes_else_windows_1251(data, encoding):
    import io

    assert import_files.detect_encoding(io.BytesIO(data)) == encoding


def test_an_excel_csv_in_windows_1251_with_semicolons_imports_with_its_russian_headers(
    alice, login, preview, run_import
):
    http = login(alice)
    job, page = preview(http, EXCEL_RU)
    body = page.content.decode()
    assert "Windows-1251" in body
    form = page.context["form"]
    assert form["delimiter"].value() == ";"
    assert [form[f"column_{i}"].value() for i in range(4)] == [
        "email",
        "full_name",
        "comment",
        "attribute",
    ]
    assert form["attr_3"].value() == "город"
    assert "Анна Иванова" in body
    run_import(http, job)
    anna = Client.objects.get(owner=alice, email="anna@example.org")
    assert (anna.full_name, anna.comment, anna.attributes) == (
        "Анна Иванова",
        "с ярмарки",
        {"город": "Москва"},
    )
    assert Client.objects.get(email="oleg@example.org").attributes == {
        "город": "Казань"
    }


def test_a_tab_separated_utf8_file_with_a_bom_imports(
    alice, login, preview, run_import
):
    data = "\ufeffE-Mail\tName\nann@example.org\tAnn\n".encode()
    http = login(alice)
    job, page = preview(http, data, "clients.tsv")
    assert page.context["form"]["delimiter"].value() == "tab"
    run_import(http, job)
    assert Client.objects.get(owner=alice).full_name == "Ann"


# --- the preview ---------------------------------------------------------------------


def test_nothing_is_written_before_import_and_the_preview_counts_every_kind_of_row(
    alice, login, preview
):
    ClientFactory(owner=alice, email="same@example.org", full_name="Same")
    ClientFactory(owner=alice, email="old@example.org", full_name="Old")
    Suppression.objects.create(owner=alice, email="GONE@example.org", reason="manual")
    data = (
        b"email,full_name\n"
        b"new@example.org,New\n"
        b"same@example.org,Same\n"
        b"old@example.org,Renamed\n"
        b"not-an-address,Bad\n"
        b"NEW@example.org,Again\n"
        b"gone@example.org,Gone\n"
    )
    http = login(alice)
    job, page = preview(http, data)
    counts = page.context["preview"]
    assert (
        counts.created,
        counts.updated,
        counts.unchanged,
        counts.invalid,
        counts.duplicates,
        counts.suppressed,
    ) == (2, 1, 1, 1, 1, 1)
    body = page.content.decode()
    assert "Not a valid e-mail address." in body
    # An invalid row: no Import button, and nothing saved.
    assert 'name="_import"' not in body
    assert job.status == ClientImport.Status.PREVIEW
    assert Client.objects.filter(owner=alice).count() == 2
    assert not Subscription.objects.exists()


def test_alice_maps_an_unknown_column_to_the_email_and_ignores_another(
    alice, login, preview, run_import
):
    data = "Адрес,Секрет,Город\nann@example.org,xyz,Берлин\n".encode()
    http = login(alice)
    job, page = preview(http, data)
    assert "Choose the column that holds the e-mail addresses." in (
        page.content.decode()
    )
    changes = {"column_0": "email", "column_1": "ignore", "attr_2": "city"}
    updated = http.post(
        job.get_absolute_url(), {**preview_data(page, **changes), "_preview": "1"}
    )
    assert updated.context["preview"].created == 1
    assert 'name="_import"' in updated.content.decode()
    run_import(http, job, **changes)
    ann = Client.objects.get(owner=alice)
    assert (ann.email, ann.attributes) == ("ann@example.org", {"city": "Берлин"})


def test_two_columns_for_one_field_are_refused_on_the_preview(alice, login, preview):
    http = login(alice)
    job, page = preview(http, b"email,name,other\na@example.org,A,B\n")
    response = http.post(
        job.get_absolute_url(),
        {**preview_data(page, column_2="full_name"), "_import": "1"},
    )
    assert response.status_code == 200
    assert "Two columns go to" in str(response.context["form"].errors)
    job.refresh_from_db()
    assert job.status == ClientImport.Status.PREVIEW


def test_an_attribute_name_a_placeholder_cannot_use_is_refused(alice, login, preview):
    http = login(alice)
    job, page = preview(http, b"email,city\na@example.org,Rome\n")
    response = http.post(
        job.get_absolute_url(),
        {**preview_data(page, attr_1="my city!"), "_import": "1"},
    )
    assert "cannot name an attribute" in str(response.context["form"].errors)


def test_choosing_another_delimiter_reads_the_columns_afresh(alice, login, preview):
    http = login(alice)
    job, page = preview(http, b"email;name\na@example.org;A\n")
    assert len(page.context["head"].headers) == 2
    response = http.post(
        job.get_absolute_url(), {**preview_data(page, delimiter=","), "_import": "1"}
    )
    # A new reading is only previewed, never imported with the old columns.
    assert response.status_code == 200
    assert response.context["head"].headers == ["email;name"]
    job.refresh_from_db()
    assert job.status == ClientImport.Status.PREVIEW


def test_a_wrong_encoding_says_so_and_shows_the_file_as_detected(alice, login, preview):
    http = login(alice)
    job, page = preview(http, "email,ФИО\na@example.org,Я\n".encode())
    response = http.post(
        job.get_absolute_url(),
        {**preview_data(page, encoding="utf-8-sig"), "_preview": "1"},
    )
    assert response.status_code == 200
    # UTF-8 read as UTF-8 with BOM decodes; now the reverse: a cp1251 file.
    job2, page2 = preview(http, EXCEL_RU)
    response = http.post(
        job2.get_absolute_url(),
        {**preview_data(page2, encoding="utf-8"), "_preview": "1"},
    )
    assert response.status_code == 200
    assert "The file is not UTF-8 text." in response.content.decode()
    assert response.context["form"]["encoding"].value() == "cp1251"


def test_attributes_are_merged_into_those_a_client_has(
    alice, login, preview, run_import
):
    ClientFactory(
        owner=alice,
        email="ann@example.org",
        full_name="Ann",
        attributes={"plan": "pro", "city": "Rome"},
    )
    http = login(alice)
    job, _page = preview(
        http, b"email,full_name,city,size\nann@example.org,Ann,Oslo,\n"
    )
    run_import(http, job)
    ann = Client.objects.get(owner=alice)
    # An empty cell never erases a value.
    assert ann.attributes == {"plan": "pro", "city": "Oslo"}
    job.refresh_from_db()
    assert job.updated_count == 1


# --- lists -------------------------------------------------------------------------


def test_an_import_into_a_new_list_subscribes_everyone_but_the_suppressed(
    alice, bob, login, preview, run_import
):
    ClientFactory(owner=alice, email="left@example.org", is_unsubscribed=True)
    Suppression.objects.create(
        owner=alice, email="no@example.org", reason=Suppression.Reason.UNSUBSCRIBED
    )
    Suppression.objects.create(
        owner=None, email="bounced@example.org", reason=Suppression.Reason.HARD_BOUNCE
    )
    # Bob's suppressions are his own: they do not stop Alice's list.
    Suppression.objects.create(owner=bob, email="ann@example.org", reason="manual")
    data = (
        b"email\nann@example.org\nleft@example.org\nno@example.org\n"
        b"bounced@example.org\n"
    )
    http = login(alice)
    job, page = preview(http, data)
    assert page.context["preview"].suppressed == 3
    run_import(http, job, new_list="Fair visitors")
    client_list = ClientList.objects.get(owner=alice, name="Fair visitors")
    assert permissions.can(alice, "change", client_list)
    assert not permissions.can(bob, "view", client_list)
    members = Subscription.objects.filter(client_list=client_list)
    assert [(s.client.email, s.status) for s in members] == [
        ("ann@example.org", Subscription.Status.SUBSCRIBED)
    ]
    job.refresh_from_db()
    assert (job.client_list, job.suppressed_count, job.created_count) == (
        client_list,
        3,
        3,
    )
    done = http.get(job.get_absolute_url(), follow=True).content.decode()
    assert "3 addresses are suppressed or unsubscribed" in done


def test_someone_who_left_a_list_is_not_put_back_by_an_import(
    alice, login, preview, run_import
):
    client_list = ClientList.objects.create(owner=alice, name="News")
    permissions.owner_permissions_grant(owner=alice, objects=client_list)
    left = ClientFactory(owner=alice, email="left@example.org")
    stays = ClientFactory(owner=alice, email="stays@example.org")
    Subscription.objects.create(
        client=left, client_list=client_list, status=Subscription.Status.UNSUBSCRIBED
    )
    Subscription.objects.create(
        client=stays, client_list=client_list, status=Subscription.Status.UNCONFIRMED
    )
    http = login(alice)
    job, _page = preview(
        http, b"email\nleft@example.org\nstays@example.org\nnew@example.org\n"
    )
    run_import(http, job, client_list=str(client_list.pk))
    statuses = dict(
        Subscription.objects.filter(client_list=client_list).values_list(
            "client__email", "status"
        )
    )
    assert statuses == {
        "left@example.org": "unsubscribed",
        # A pending double opt-in is left to the person to confirm.
        "stays@example.org": "unconfirmed",
        "new@example.org": "subscribed",
    }


def test_alice_cannot_import_into_bobs_list(alice, bob, login, preview):
    bobs = ClientList.objects.create(owner=bob, name="Bob's")
    http = login(alice)
    job, page = preview(http, b"email\na@example.org\n")
    assert bobs not in page.context["form"].fields["client_list"].queryset
    response = http.post(
        job.get_absolute_url(),
        {**preview_data(page, client_list=str(bobs.pk)), "_import": "1"},
    )
    assert response.status_code == 200
    assert "client_list" in response.context["form"].errors
    assert not Subscription.objects.exists()


def test_choosing_a_list_and_naming_a_new_one_is_refused(alice, login, preview):
    mine = ClientList.objects.create(owner=alice, name="Mine")
    http = login(alice)
    job, page = preview(http, b"email\na@example.org\n")
    response = http.post(
        job.get_absolute_url(),
        {
            **preview_data(page, client_list=str(mine.pk), new_list="Other"),
            "_import": "1",
        },
    )
    assert "not both" in str(response.context["form"].errors)


# --- who may -----------------------------------------------------------------------


def test_nobody_else_sees_or_confirms_alices_preview(
    alice, bob, manager, editor, login, preview, client
):
    job, page = preview(login(alice), b"email\na@example.org\n")
    data = {**preview_data(page), "_import": "1"}
    for person in (bob, manager, editor):
        http = login(person)
        assert http.get(job.get_absolute_url()).status_code in (403, 404)
        assert http.post(job.get_absolute_url(), data).status_code in (403, 404)
    anonymous = client.post(job.get_absolute_url(), data)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    job.refresh_from_db()
    assert job.status == ClientImport.Status.PREVIEW


def test_the_sample_file_imports_back(alice, login, preview, run_import):
    http = login(alice)
    link = http.get(IMPORT_URL).content.decode()
    assert SAMPLE_URL in link
    sample = http.get(SAMPLE_URL)
    assert sample.status_code == 200
    assert sample["Content-Type"].startswith("text/csv")
    assert "attachment" in sample["Content-Disposition"]
    job, _page = preview(http, sample.content)
    run_import(http, job)
    ivan = Client.objects.get(owner=alice, email="ivan@example.org")
    assert (ivan.full_name, ivan.attributes) == ("Иван Петров", {"city": "Москва"})
    assert set(selectors.visible_clients(alice)) == set(Client.objects.all())


@pytest.mark.parametrize("role", ["manager", "editor"])
def test_managers_and_editors_get_no_sample_file(role, request, login):
    assert login(request.getfixturevalue(role)).get(SAMPLE_URL).status_code == 403


def test_anonymous_visitors_get_no_sample_file(client):
    response = client.get(SAMPLE_URL)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_an_xlsx_with_russian_headers_is_previewed_without_a_csv_reading(
    alice, login, run_import
):
    from apps.mailings.tests.test_import_export import xlsx_file

    http = login(alice)
    file = xlsx_file([["Почта", "ФИО", "Город"], ["ann@example.org", "Анна", "Омск"]])
    response = http.post(IMPORT_URL, {"format": "1", "import_file": file})
    job = ClientImport.objects.get(owner=alice)
    page = http.get(response["Location"])
    assert "encoding" not in page.context["form"].fields
    assert page.context["preview"].created == 1
    run_import(http, job)
    ann = Client.objects.get(owner=alice)
    assert (ann.full_name, ann.attributes) == ("Анна", {"город": "Омск"})


def test_a_preview_left_waiting_blocks_nothing_and_is_dropped_after_a_day(
    alice, login, preview, settings
):
    import datetime as dt

    import time_machine

    http = login(alice)
    old, _page = preview(http, b"email\nold@example.org\n")
    stored = settings.MAILSHOT_IMPORT_DIR / old.stored_name
    assert stored.exists()
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=2)):
        new, _page = preview(http, b"email\nnew@example.org\n")
    assert not ClientImport.objects.filter(pk=old.pk).exists()
    assert not stored.exists()
    assert new.status == ClientImport.Status.PREVIEW


def test_import_pressed_twice_queues_the_job_once(
    alice, login, preview, django_capture_on_commit_callbacks
):
    http = login(alice)
    job, page = preview(http, b"email\nann@example.org\n")
    data = {**preview_data(page), "_import": "1"}
    with django_capture_on_commit_callbacks(execute=False) as queued:
        http.post(job.get_absolute_url(), data)
        http.post(job.get_absolute_url(), data)
    assert len(queued) == 1
    job.refresh_from_db()
    assert job.status == ClientImport.Status.QUEUED


def test_the_lists_counts_follow_an_import_through_the_cache(
    alice, login, preview, run_import
):

    client_list = ClientList.objects.create(owner=alice, name="News")

    def count() -> int:
        return ClientList.objects.get(pk=client_list.pk).subscriber_count

    assert count() == 0  # now cached by cachalot
    http = login(alice)
    job, _page = preview(http, b"email\na@example.org\nb@example.org\n")
    run_import(http, job, client_list=str(client_list.pk))
    assert count() == 2
    assert not Subscription.objects.filter(confirmed_at__isnull=False).exists()


def test_the_preview_asks_the_database_per_thousand_addresses_not_per_row(
    alice, login, preview
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    http = login(alice)

    def queries_for(rows: int) -> int:
        data = "email\n" + "".join(f"p{i}@example.org\n" for i in range(rows))
        job, _page = preview(http, data.encode())
        with CaptureQueriesContext(connection) as ctx:
            page = http.get(job.get_absolute_url())
        assert page.context["preview"].created == rows
        return len(ctx.captured_queries)

    small, large = queries_for(10), queries_for(3000)
    # Two look-ups (clients, suppressions) per thousand addresses.
    assert large - small <= 2 * 3


def test_a_superuser_follows_alices_job_but_cannot_start_it_into_a_list(
    alice, superuser, login, preview
):
    theirs = ClientList.objects.create(owner=superuser, name="Root's")
    job, page = preview(login(alice), b"email\na@example.org\n")
    root = login(superuser)
    assert root.get(job.get_absolute_url()).status_code == 403
    data = {**preview_data(page, client_list=str(theirs.pk)), "_import": "1"}
    assert root.post(job.get_absolute_url(), data).status_code == 403
    job.refresh_from_db()
    assert job.status == ClientImport.Status.PREVIEW
