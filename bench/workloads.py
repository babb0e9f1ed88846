"""One measured workload per process: `python -m bench.workloads NAME N`.

Prints one JSON line: {"seconds": wall time of the measured part, ...}. Run with
DJANGO_SETTINGS_MODULE=bench.settings and BENCH_SMTP_PORT pointing at bench.sink.
"""

from __future__ import annotations

import json
import os
import smtplib
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from email.message import EmailMessage

SENDER = "bench@example.com"
BODY = (
    "Hello {name},\n\nThis is the monthly news.\n" + "Lorem ipsum dolor sit amet. " * 20
)


def recipients(n: int) -> Iterator[str]:
    return (f"r{i}@example.org" for i in range(n))


def message(rcpt: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = SENDER, rcpt, "News"
    msg.set_content(BODY.format(name=rcpt))
    return msg


def bare_smtplib(n: int) -> dict:
    """The wire's speed: one connection, one message per recipient, no bookkeeping."""
    port = int(os.environ["BENCH_SMTP_PORT"])
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        for rcpt in recipients(n):
            smtp.send_message(message(rcpt))
    return {"seconds": time.perf_counter() - started}


def bare_smtplib_threads(n: int) -> dict:
    """The wire with Mailshot's default connection count: that many connections, one
    thread each, sending message bytes built before the clock starts. Nothing Mailshot
    could do on the same sink would be faster; its run is measured against this."""
    port = int(os.environ["BENCH_SMTP_PORT"])
    connections = int(os.environ.get("MAILSHOT_SMTP_CONNECTIONS", "4"))
    prepared = [(rcpt, message(rcpt).as_bytes()) for rcpt in recipients(n)]

    def send(share: list[tuple[str, bytes]]) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            for rcpt, data in share:
                smtp.sendmail(SENDER, [rcpt], data)

    started = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        # list() waits for every share and re-raises a sender's error.
        list(pool.map(send, [prepared[i::connections] for i in range(connections)]))
    return {"seconds": time.perf_counter() - started, "connections": connections}


def _django() -> None:
    import django

    django.setup()


def django_send_mail(n: int) -> dict:
    """Naive Django: send_mail per message, a new connection each time."""
    _django()
    from django.core.mail import send_mail

    started = time.perf_counter()
    for rcpt in recipients(n):
        send_mail("News", BODY.format(name=rcpt), SENDER, [rcpt])
    return {"seconds": time.perf_counter() - started}


def post_office(n: int) -> dict:
    _django()
    from django.core.management import call_command
    from post_office import mail
    from post_office.models import Email

    Email.objects.all().delete()
    for rcpt in recipients(n):
        mail.send(rcpt, SENDER, subject="News", message=BODY.format(name=rcpt))
    started = time.perf_counter()
    call_command("send_queued_mail", verbosity=0)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "sent": Email.objects.filter(status=0).count()}


def django_mailer(n: int) -> dict:
    _django()
    from django.core.management import call_command
    from mailer import send_mail
    from mailer.models import Message

    Message.objects.all().delete()
    for rcpt in recipients(n):
        send_mail("News", BODY.format(name=rcpt), SENDER, [rcpt])
    started = time.perf_counter()
    call_command("send_mail", verbosity=0)
    return {"seconds": time.perf_counter() - started}


def seed_mailing(n: int) -> dict:
    """A user with n clients and a mailing to all of them (starts later: no send)."""
    _django()
    from bench.seed import seed_mailing as seed

    started = time.perf_counter()
    mailing_id = seed(n)
    return {"seconds": time.perf_counter() - started, "mailing_id": mailing_id}


def seed_mailing_html(n: int) -> dict:
    """The same, with an HTML message (bench.seed.HTML_BODY)."""
    _django()
    from bench.seed import seed_mailing as seed

    started = time.perf_counter()
    mailing_id = seed(n, html=True)
    return {"seconds": time.perf_counter() - started, "mailing_id": mailing_id}


def bare_smtplib_html(n: int) -> dict:
    """The wire for the HTML message: one connection, each message built with the
    standard library's e-mail API as it goes (multipart/alternative: the text part
    and the HTML document Mailshot sends, the name filled in), no bookkeeping."""
    _django()
    from apps.content import layouts
    from apps.content.placeholders import substitute
    from bench.seed import HTML_BODY

    html = layouts.document(
        layouts.apply_layout(layouts.default_layout("en"), HTML_BODY), language="en"
    )
    text = layouts.html_to_text(HTML_BODY)
    port = int(os.environ["BENCH_SMTP_PORT"])
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        for rcpt in recipients(n):
            context = {"full_name": rcpt}
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = SENDER, rcpt, "News"
            msg.set_content(substitute(text, context))
            msg.add_alternative(substitute(html, context, html=True), subtype="html")
            smtp.send_message(msg)
    return {"seconds": time.perf_counter() - started, "bytes": len(msg.as_bytes())}


def mailshot_send(n: int) -> dict:
    """Mailshot's own run: `send_mailing ID` with all its bookkeeping."""
    _django()
    from django.core.management import call_command

    mailing_id = int(os.environ["BENCH_MAILING_ID"])
    started = time.perf_counter()
    try:
        call_command("send_mailing", str(mailing_id), verbosity=0)
    except SystemExit as exc:  # a non-zero exit is still a measured run
        status = exc.code
    else:
        status = 0
    seconds = time.perf_counter() - started
    from apps.mailings.models import Attempt

    attempt = Attempt.objects.filter(mailing_id=mailing_id).latest("attempted_at")
    return {
        "seconds": seconds,
        "exit": status,
        "sent": attempt.sent_count,
        "failed": attempt.failed_count,
    }


def admin_pages(n: int) -> dict:
    """Median time and query count of the admin pages a user with n clients opens."""
    _django()
    import statistics

    from django.db import connection
    from django.test import Client as HttpClient
    from django.test.utils import CaptureQueriesContext

    from apps.users.models import User
    from bench.seed import seed_admin_scale

    user = User.objects.get(pk=seed_admin_scale(n))
    http = HttpClient()
    http.force_login(user, backend="apps.users.backends.EmailBackend")
    pages = {
        "client list": "/admin/mailings/client/",
        # Terms that fill a whole page at both sizes: the same rows are rendered.
        "client search": "/admin/mailings/client/?q=r1",
        "mailing form": "/admin/mailings/mailing/add/",
        "mailing list": "/admin/mailings/mailing/",
        "attempt list": "/admin/mailings/attempt/",
        "dashboard": "/admin/",
        "clients autocomplete": "/admin/autocomplete/?app_label=mailings"
        "&model_name=mailing&field_name=clients&term=r1",
    }
    result = {}
    for name, url in pages.items():
        http.get(url)  # warm: templates, cachalot
        times = []
        for _ in range(5):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = http.get(url)
                times.append(time.perf_counter() - started)
            assert response.status_code == 200, (url, response.status_code)
        result[name] = {
            "seconds": statistics.median(times),
            "queries": len(queries),
            "bytes": len(response.content),
        }
    return {"seconds": 0, "pages": result}


def import_clients(n: int) -> dict:
    """n clients from a CSV through Mailshot's import job — the upload's checks and
    storage, then the task (validation, de-duplication, permissions, a transaction
    per batch) — against a bare bulk_create of the same rows, in one process.

    Meanwhile another thread writes one small row every 50 ms, as logins and the
    scheduler do: its longest wait is how long the import ever blocks other writers
    (SQLite has one writer at a time)."""
    _django()
    import csv
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile

    from apps.mailings import import_jobs, imports
    from apps.mailings.models import Client
    from bench.seed import bench_user

    rows = [(f"i{i}@example.org", f"Reader {i}", "from the fair") for i in range(n)]
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["email", "full_name", "comment"])
    writer.writerows(rows)
    data = text.getvalue().encode()

    bare_user, user = (
        bench_user("import-bare@example.com"),
        bench_user("import@example.com"),
    )
    Client.objects.filter(owner__in=[bare_user, user]).delete()
    probe = Client.objects.create(owner=bare_user, email="probe@example.org")
    started = time.perf_counter()
    Client.objects.bulk_create(
        (
            Client(owner=bare_user, email=e, full_name=name, comment=comment)
            for e, name, comment in rows
        ),
        batch_size=2000,
    )
    bare = time.perf_counter() - started

    batches: list[float] = []
    write = imports._BatchWriter.write

    def timed(
        self: imports._BatchWriter, batch: list[imports.Cleaned], rows_done: int
    ) -> None:
        began = time.perf_counter()
        write(self, batch, rows_done)
        batches.append(time.perf_counter() - began)

    imports._BatchWriter.write = timed  # type: ignore[method-assign]
    started = time.perf_counter()
    job = import_jobs.client_import_create(
        owner=user,
        upload=SimpleUploadedFile("clients.csv", data, "text/csv"),
        file_format="csv",
    )
    upload = time.perf_counter() - started
    with another_writer(probe.pk) as waits:
        import_jobs.client_import_run(job.pk)
    seconds = time.perf_counter() - started
    job.refresh_from_db()
    assert job.status == "done" and job.created_count == n, job.problem
    return {
        "seconds": seconds,
        "bare": bare,
        "upload": upload,
        "batches": len(batches),
        "longest_batch": max(batches),
        "longest_wait": max(waits, default=0.0),
    }


@contextmanager
def another_writer(client_pk: int) -> Iterator[list[float]]:
    """Meanwhile another thread updates one client every 50 ms; the list it yields
    holds how long each of those writes waited (SQLite has one writer at a time)."""
    from django.db import connection

    from apps.mailings.models import Client

    waits: list[float] = []
    done = threading.Event()

    def write() -> None:
        while not done.wait(0.05):
            began = time.perf_counter()
            Client.objects.filter(pk=client_pk).update(comment=str(began))
            waits.append(time.perf_counter() - began)
        connection.close()

    thread = threading.Thread(target=write)
    thread.start()
    try:
        yield waits
    finally:
        done.set()
        thread.join()


WORKLOADS = {
    f.__name__: f
    for f in (
        bare_smtplib,
        bare_smtplib_threads,
        django_send_mail,
        post_office,
        django_mailer,
        seed_mailing,
        seed_mailing_html,
        bare_smtplib_html,
        mailshot_send,
        admin_pages,
        import_clients,
    )
}

if __name__ == "__main__":
    name, n = sys.argv[1], int(sys.argv[2])
    print(json.dumps(WORKLOADS[name](n)), flush=True)
