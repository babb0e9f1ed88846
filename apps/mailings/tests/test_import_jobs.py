"""Client imports as background jobs: the upload is checked and stored, a task
imports it in batches (one transaction each), the job's page shows its progress to
the importer alone; limits on size, rows and unpacked XLSX; control characters."""

from __future__ import annotations

import csv
import io
import os
import struct
import time
import zipfile
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from apps.mailings import import_files, import_jobs, imports
from apps.mailings.models import Client, ClientImport
from apps.mailings.tests.test_import_export import confirm_import, xlsx_file
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

IMPORT_URL = reverse("admin:mailings_client_import")
CHANGELIST_URL = reverse("admin:mailings_client_changelist")
CSV_FORMAT, XLSX_FORMAT = "0", "1"


@pytest.fixture(autouse=True)
def import_dir(settings, tmp_path) -> Path:
    settings.MAILSHOT_IMPORT_DIR = tmp_path / "imports"
    return settings.MAILSHOT_IMPORT_DIR


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def csv_file(rows: list[list[str]], name: str = "clients.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, csv_bytes(rows), "text/csv")


@pytest.fixture
def post_file(django_capture_on_commit_callbacks):
    """post_file(http, file, fmt, run=True) -> the upload's response; with run, the
    queued task has run (the queue is synchronous in tests)."""

    def _post(http, file, fmt=CSV_FORMAT, run=True):
        with django_capture_on_commit_callbacks(execute=run):
            response = http.post(IMPORT_URL, {"format": fmt, "import_file": file})
            if response.status_code == 302:
                response = confirm_import(http, response["Location"])
            return response

    return _post


def form_errors(response) -> str:
    assert response.status_code == 200, response.get("Location")
    return str(response.context["form"].errors)


# --- the job and its page ------------------------------------------------------------


def test_an_upload_becomes_a_job_whose_page_sends_alice_to_her_clients(
    alice, login, post_file
):
    http = login(alice)
    response = post_file(http, csv_file([["email"], ["ann@example.org"]]))
    job = ClientImport.objects.get(owner=alice)
    assert response.status_code == 302
    assert response["Location"] == job.get_absolute_url()
    assert job.status == ClientImport.Status.DONE
    assert (job.rows_total, job.rows_done, job.created_count) == (1, 1, 1)
    page = http.get(job.get_absolute_url(), follow=True)
    assert page.redirect_chain[-1][0] == CHANGELIST_URL
    assert "Import done: 1 new, 0 updated" in page.content.decode()


def test_a_queued_job_shows_its_progress_and_polls_for_more(alice, login, post_file):
    http = login(alice)
    post_file(http, csv_file([["email"], ["ann@example.org"]]), run=False)
    job = ClientImport.objects.get(owner=alice)
    assert job.status == ClientImport.Status.QUEUED
    page = http.get(job.get_absolute_url())
    body = page.content.decode()
    progress_url = reverse("admin:mailings_client_import_progress", args=[job.pk])
    assert page.status_code == 200
    assert f'data-import-progress="{progress_url}"' in body
    assert "mailings/import-status.js" in body
    assert "Waiting for a worker" in body
    state = http.get(progress_url).json()
    assert state["finished"] is False and state["status"] == "queued"
    assert not Client.objects.exists()


def test_progress_while_importing_counts_rows_of_the_whole_file(alice, login):
    job = ClientImport.objects.create(
        owner=alice,
        file_format="csv",
        file_name="big.csv",
        stored_name="x.csv",
        status=ClientImport.Status.IMPORTING,
        rows_total=200_000,
        rows_done=50_000,
    )
    url = reverse("admin:mailings_client_import_progress", args=[job.pk])
    state = login(alice).get(url).json()
    assert state["percent"] == 25
    assert state["text"] == "Importing: 50,000 of 200,000 rows."


@pytest.mark.parametrize("who", ["bob", "manager", "editor"])
def test_only_the_importer_and_superusers_see_a_job(
    who, alice, superuser, login, post_file, request
):
    post_file(login(alice), csv_file([["email"], ["ann@example.org"]]), run=False)
    job = ClientImport.objects.get(owner=alice)
    progress_url = reverse("admin:mailings_client_import_progress", args=[job.pk])
    other = login(request.getfixturevalue(who))
    assert other.get(job.get_absolute_url()).status_code == 404
    assert other.get(progress_url).status_code == 404
    root = login(superuser)
    assert root.get(job.get_absolute_url()).status_code == 200
    assert root.get(progress_url).status_code == 200


def test_an_anonymous_visitor_is_sent_to_the_login_page(alice, client):
    job = ClientImport.objects.create(
        owner=alice, file_format="csv", file_name="a.csv", stored_name="a.csv"
    )
    response = client.get(job.get_absolute_url())
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_file_waits_in_the_private_import_dir_and_is_removed_after(
    alice, login, post_file, import_dir, settings
):
    http = login(alice)
    post_file(http, csv_file([["email"], ["ann@example.org"]]), run=False)
    job = ClientImport.objects.get(owner=alice)
    stored = import_dir / job.stored_name
    assert stored.read_bytes().startswith(b"email")
    assert os.stat(stored).st_mode & 0o777 == 0o600
    assert not str(stored).startswith(str(settings.MEDIA_ROOT))
    assert job.file_name == "clients.csv"
    import_jobs.client_import_run(job.pk)
    assert not stored.exists()
    assert Client.objects.filter(owner=alice).count() == 1


@pytest.mark.parametrize("fmt", [CSV_FORMAT, XLSX_FORMAT])
def test_an_upload_too_big_for_memory_is_checked_and_stored_from_its_temporary_file(
    fmt, alice, login, post_file, settings
):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10  # Django spools it to a temporary file
    rows = [["email", "full_name"], ["ann@example.org", "Ann"], ["ben@example.org", ""]]
    file = csv_file(rows) if fmt == CSV_FORMAT else xlsx_file(rows)
    response = post_file(login(alice), file, fmt)
    assert response.status_code == 302
    job = ClientImport.objects.get(owner=alice)
    assert job.status == ClientImport.Status.DONE, job.problem
    assert Client.objects.filter(owner=alice).count() == 2


def test_one_import_at_a_time_per_person(alice, bob, login, post_file):
    http = login(alice)
    post_file(http, csv_file([["email"], ["ann@example.org"]]), run=False)
    response = post_file(http, csv_file([["email"], ["ben@example.org"]]))
    assert "still running" in form_errors(response)
    assert ClientImport.objects.filter(owner=alice).count() == 1
    # Bob is not held up by Alice's import.
    assert (
        post_file(login(bob), csv_file([["email"], ["b@example.org"]])).status_code
        == 302
    )


def test_the_import_page_links_alices_recent_imports(alice, bob, login, post_file):
    post_file(login(alice), csv_file([["email"], ["ann@example.org"]], "mine.csv"))
    post_file(login(bob), csv_file([["email"], ["b@example.org"]], "bobs.csv"))
    body = login(alice).get(IMPORT_URL).content.decode()
    job = ClientImport.objects.get(owner=alice)
    assert job.get_absolute_url() in body and "mine.csv" in body
    assert "bobs.csv" not in body


def test_a_refused_file_lists_its_problems_on_the_job_page(alice, login, post_file):
    http = login(alice)
    rows = [["email", "full_name"], ["good@example.org", "Good"], ["bad", "Bad"]]
    response = post_file(http, csv_file(rows))
    page = http.get(response["Location"])
    job = page.context["job"]
    assert job.status == ClientImport.Status.FAILED
    assert [(e.line, e.column) for e in page.context["report"].errors] == [(3, "email")]
    assert "Nothing was imported: 1 problem" in page.content.decode()
    assert not Client.objects.exists()


# --- batches -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_100000_row_csv_is_written_by_the_task_in_100_transactions(
    alice, monkeypatch
):
    batches: list[tuple[int, bool]] = []
    write = imports._BatchWriter.write

    def spy(self, batch, rows_done):
        # Outside any transaction when a batch starts: each batch commits alone,
        # so other writers never wait for the whole import.
        batches.append((len(batch), connection.in_atomic_block))
        return write(self, batch, rows_done)

    monkeypatch.setattr(imports._BatchWriter, "write", spy)
    n = 100_000
    rows = [["email", "full_name"]] + [
        [f"c{i}@example.org", f"C {i}"] for i in range(n)
    ]
    job = import_jobs.client_import_start(
        owner=alice, upload=csv_file(rows), file_format="csv"
    )  # not in a transaction: the task is queued (and, in tests, runs) at once
    job.refresh_from_db()
    assert job.status == ClientImport.Status.DONE, job.problem
    assert (job.rows_total, job.rows_done, job.created_count) == (n, n, n)
    assert len(batches) == n // imports.BATCH_SIZE
    assert {size for size, _ in batches} == {imports.BATCH_SIZE}
    assert not any(in_transaction for _, in_transaction in batches)
    assert Client.objects.filter(owner=alice).count() == n


def _stale_job(owner, data: bytes, **fields) -> ClientImport:
    stored = f"{owner.pk}-resume.csv"
    path = Path(import_jobs.import_dir())
    path.mkdir(parents=True, exist_ok=True)
    (path / stored).write_bytes(data)
    job = ClientImport.objects.create(
        owner=owner, file_format="csv", file_name="r.csv", stored_name=stored, **fields
    )
    # The worker that ran it went silent long ago (killed, timed out).
    ClientImport.objects.filter(pk=job.pk).update(
        updated_at=timezone.now() - timedelta(hours=1)
    )
    return job


def test_a_job_handed_out_again_carries_on_after_its_saved_batches(alice):
    data = csv_bytes([["email"]] + [[f"r{i}@example.org"] for i in range(5)])
    for i in range(3):  # saved by the killed worker with the job's counters
        ClientFactory(owner=alice, email=f"r{i}@example.org")
    job = _stale_job(
        alice,
        data,
        status=ClientImport.Status.IMPORTING,
        rows_total=5,
        rows_done=3,
        created_count=3,
    )
    import_jobs.client_import_run(job.pk)
    job.refresh_from_db()
    assert job.status == ClientImport.Status.DONE
    assert (job.rows_done, job.created_count, job.unchanged_count) == (5, 5, 0)
    assert Client.objects.filter(owner=alice).count() == 5


def test_a_job_another_worker_is_running_is_left_alone(alice):
    job = ClientImport.objects.create(
        owner=alice,
        file_format="csv",
        file_name="r.csv",
        stored_name="nowhere.csv",
        status=ClientImport.Status.IMPORTING,
    )
    assert import_jobs.client_import_run(job.pk).startswith("not queued")
    job.refresh_from_db()
    assert job.status == ClientImport.Status.IMPORTING


def test_an_import_that_stops_on_an_error_says_so_and_keeps_saved_batches(
    alice, monkeypatch
):
    data = csv_bytes([["email"]] + [[f"e{i}@example.org"] for i in range(5)])
    job = _stale_job(alice, data)
    ClientImport.objects.filter(pk=job.pk).update(status=ClientImport.Status.QUEUED)
    save = imports._BatchWriter._save
    calls = []

    def failing(self, batch, rows_done, **kwargs):
        calls.append(rows_done)
        if len(calls) > 1:
            raise RuntimeError("disk full")
        return save(self, batch, rows_done, **kwargs)

    monkeypatch.setattr(imports._BatchWriter, "_save", failing)
    monkeypatch.setattr(imports, "BATCH_SIZE", 2)
    import_jobs.client_import_run(job.pk)
    job.refresh_from_db()
    assert job.status == ClientImport.Status.FAILED
    assert "unexpected error" in job.problem
    assert (job.rows_done, job.created_count) == (2, 2)
    assert Client.objects.filter(owner=alice).count() == 2
    assert not (import_jobs.import_dir() / job.stored_name).exists()
    assert "2 new" in import_jobs.job_progress(job)["text"]


def test_a_file_the_worker_cannot_find_fails_with_a_reason(alice):
    job = ClientImport.objects.create(
        owner=alice, file_format="csv", file_name="a.csv", stored_name="gone.csv"
    )
    import_jobs.client_import_run(job.pk)
    job.refresh_from_db()
    assert job.status == ClientImport.Status.FAILED
    assert "MAILSHOT_IMPORT_DIR" in job.problem


# --- limits --------------------------------------------------------------------------


def test_a_file_over_the_size_limit_is_refused_at_upload(
    alice, login, post_file, settings
):
    settings.MAILSHOT_IMPORT_MAX_BYTES = 1000
    rows = [["email", "comment"], ["big@example.org", "x" * 2000]]
    response = post_file(login(alice), csv_file(rows))
    assert "more than the 1000\xa0bytes allowed" in form_errors(response)
    assert not ClientImport.objects.exists()


def test_a_csv_with_too_many_rows_is_refused_at_upload(
    alice, login, post_file, settings
):
    settings.MAILSHOT_IMPORT_MAX_ROWS = 3
    rows = [["email"]] + [[f"r{i}@example.org"] for i in range(4)] + [[""]]
    response = post_file(login(alice), csv_file(rows))
    assert "more than 3 rows" in form_errors(response)
    assert not ClientImport.objects.exists()
    # As many as allowed, blank lines aside, is fine.
    response = post_file(login(alice), csv_file(rows[:4] + [[""], [""]]))
    assert response.status_code == 302
    assert Client.objects.filter(owner=alice).count() == 3


def test_an_xlsx_with_too_many_rows_is_refused_by_the_task(
    alice, login, post_file, settings
):
    settings.MAILSHOT_IMPORT_MAX_ROWS = 3
    rows = [["email"]] + [[f"r{i}@example.org"] for i in range(4)]
    http = login(alice)
    response = post_file(http, xlsx_file(rows), XLSX_FORMAT)
    page = http.get(response["Location"])
    assert "more than 3 rows" in page.content.decode()
    assert page.context["job"].status == ClientImport.Status.FAILED
    assert not Client.objects.exists()


def _bomb(unpacked: int) -> bytes:
    """A real workbook whose shared strings unpack to `unpacked` bytes of one
    repeated string (deflate shrinks them about a thousand times)."""
    base = io.BytesIO()
    workbook = openpyxl.Workbook()
    workbook.active.append(["email"])
    workbook.save(base)
    out = io.BytesIO()
    with (
        zipfile.ZipFile(base) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb,
    ):
        for item in source.infolist():
            bomb.writestr(item, source.read(item))
        chunk = b"<si><t>" + b"A" * 1017 + b"</t></si>"
        with bomb.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(b'<sst xmlns="http://schemas.openxmlformats.org/')
            part.write(b'spreadsheetml/2006/main">')
            for _ in range(unpacked // len(chunk)):
                part.write(chunk)
            part.write(b"</sst>")
    return out.getvalue()


@pytest.fixture(scope="module")
def zip_bomb() -> bytes:
    return _bomb(300 * 2**20)


def test_a_zip_bomb_xlsx_is_refused_at_upload_without_unpacking_it(
    alice, login, post_file, zip_bomb, monkeypatch
):
    assert len(zip_bomb) < 2 * 2**20
    opened = []
    monkeypatch.setattr(
        zipfile.ZipFile, "open", lambda *args, **kw: opened.append(args) or 1 / 0
    )
    started = time.perf_counter()
    response = post_file(
        login(alice), SimpleUploadedFile("bomb.xlsx", zip_bomb), XLSX_FORMAT
    )
    assert time.perf_counter() - started < 5  # generous: it takes milliseconds
    assert "The workbook unpacks to 300" in form_errors(response)
    assert opened == []
    assert not ClientImport.objects.exists()


def test_a_zip_bomb_reaching_the_task_is_refused_before_it_is_opened(
    zip_bomb, monkeypatch
):
    import openpyxl as module

    monkeypatch.setattr(module, "load_workbook", lambda *a, **kw: 1 / 0)
    limits = import_files.ImportLimits(
        max_bytes=2**30, max_rows=10, max_unpacked_bytes=100 * 2**20
    )
    with pytest.raises(import_files.ImportFileError, match="unpacks to"):
        list(import_files.read_xlsx(io.BytesIO(zip_bomb), limits))


def _understate_sizes(data: bytes, name: bytes, size: int) -> bytes:
    """The zip with `name`'s uncompressed size declared as `size` (a lie)."""
    data = bytearray(data)
    local = data.find(b"PK\x03\x04")
    while local != -1:
        name_length = struct.unpack_from("<H", data, local + 26)[0]
        if data[local + 30 : local + 30 + name_length] == name:
            struct.pack_into("<I", data, local + 22, size)
        local = data.find(b"PK\x03\x04", local + 4)
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_length = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46 : central + 46 + name_length] == name:
            struct.pack_into("<I", data, central + 24, size)
        central = data.find(b"PK\x01\x02", central + 4)
    return bytes(data)


def test_a_workbook_that_understates_its_unpacked_size_is_stopped_while_read():
    rows = [["email"]] + [[f"row{i}@example.org"] for i in range(20_000)]
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    liar = _understate_sizes(out.getvalue(), b"xl/worksheets/sheet1.xml", 100)
    with zipfile.ZipFile(io.BytesIO(liar)) as archive:
        declared = archive.getinfo("xl/worksheets/sheet1.xml").file_size
    assert declared == 100
    limits = import_files.ImportLimits(
        max_bytes=2**30, max_rows=10**6, max_unpacked_bytes=2**20
    )
    # Python's zipfile inflates no more than the declared size, then the part
    # fails its CRC check: the lie costs nothing.
    with pytest.raises(import_files.ImportFileError, match="not an XLSX"):
        list(import_files.read_xlsx(io.BytesIO(liar), limits))


# --- control characters -------------------------------------------------------------


@pytest.mark.parametrize(
    ("cells", "column"),
    [
        (["nul@example.org", "Ann\x00"], "full_name"),
        (["nul\x00@example.org", "Ann"], "email"),
        (["esc@example.org", "Ann\x1b[31m"], "full_name"),
        (["c@example.org", "Ann", "a\x00b"], "comment"),
    ],
)
def test_a_row_with_a_control_character_is_refused_with_its_line(
    cells, column, alice, login, post_file
):
    http = login(alice)
    rows = [["email", "full_name", "comment"], ["ok@example.org", "Ok", ""], cells]
    response = post_file(http, csv_file(rows))
    page = http.get(response["Location"])
    errors = page.context["report"].errors
    assert [(e.line, e.column) for e in errors] == [(3, column)]
    assert "Control characters" in errors[0].message
    assert "\\x" in errors[0].value  # shown spelled out, stored without the NUL
    assert not Client.objects.filter(owner=alice).exists()


def test_a_comment_keeps_its_tabs_and_line_breaks(alice, login, post_file):
    rows = [["email", "comment"], ["t@example.org", "first\tline\r\nsecond"]]
    post_file(login(alice), csv_file(rows))
    assert Client.objects.get(owner=alice).comment == "first\tline\r\nsecond"
