"""`make prod-check`: run Mailshot as in production and walk a smoke journey through it.

Starts gunicorn (debug off, static files collected and served by whitenoise), one
`qcluster` and an SMTP sink, on PostgreSQL + Redis (DATABASE_URL / REDIS_URL, defaults
to the local servers), then as a superuser: checks /healthz, public pages, a static
file; adds a client, a message and a mailing that starts now through the admin forms,
and waits for the cluster to deliver it to the sink. Exits non-zero with one line on the
first failure. Everything runs in a fresh database and a temporary var/ directory.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
ADMIN_EMAIL, ADMIN_PASSWORD = "ops@example.com", "prod-check-Password-1"


def fail(message: str) -> None:
    raise SystemExit(f"prod-check: {message}")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_env(tmp: Path) -> dict:
    db_url = os.environ.get(
        "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mailshot"
    )
    base, _, _ = db_url.rpartition("/")
    name = "mailshot_prodcheck"
    import psycopg2

    conn = psycopg2.connect(f"{base}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    redis_url = redis_url.rsplit("/", 1)[0] + "/9"
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    web_port, smtp_port = free_port(), free_port()
    env = dict(os.environ)
    env.update(
        DJANGO_DEBUG="0",
        DJANGO_HTTPS="0",
        MAILSHOT_TESTING="0",
        # Production refuses a weak key at start-up: a fresh random one per run.
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=f"{base}/{name}",
        REDIS_URL=redis_url,
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_port),
        EMAIL_URL="",
        SITE_URL=f"http://127.0.0.1:{web_port}",
        MAILSHOT_VAR_DIR=str(tmp),
        DJANGO_SUPERUSER_EMAIL=ADMIN_EMAIL,
        DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD,
        LOG_LEVEL="WARNING",
        WEB_PORT=str(web_port),
        SMTP_PORT=str(smtp_port),
    )
    return env


def manage(env: dict, *args: str) -> None:
    result = subprocess.run(  # noqa: S603
        [PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        fail(f"manage.py {' '.join(args)} failed: {result.stderr.strip()[-500:]}")


class Browser:
    """Just enough of a browser: cookies, CSRF, form posts."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar)
        )

    def get(self, path: str, expect: int = 200) -> str:
        try:
            with self.opener.open(self.base + path, timeout=30) as resp:
                status, body = resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read().decode(errors="replace")
        if status != expect:
            fail(f"GET {path} answered {status}, expected {expect}")
        return body

    def csrf(self) -> str:
        for cookie in self.jar:
            if cookie.name == "csrftoken":
                return cookie.value
        fail("no CSRF cookie was set")
        return ""

    def post(self, path: str, data: list[tuple[str, str]] | dict) -> tuple[str, str]:
        self.get(path)
        items = list(data.items()) if isinstance(data, dict) else list(data)
        items.append(("csrfmiddlewaretoken", self.csrf()))
        req = urllib.request.Request(  # noqa: S310
            self.base + path,
            data=urllib.parse.urlencode(items).encode(),
            headers={"Referer": self.base + path},
        )
        try:
            with self.opener.open(req, timeout=30) as resp:
                return resp.url, resp.read().decode()
        except urllib.error.HTTPError as exc:
            fail(f"POST {path} answered {exc.code}")
            raise


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    fail(f"timed out after {timeout:.0f} s waiting for {what}")


def journey(env: dict, mail_dir: Path) -> None:
    base = f"http://127.0.0.1:{env['WEB_PORT']}"
    web = Browser(base)

    def healthy():
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=5) as resp:  # noqa: S310
                return resp.status == 200
        except OSError:
            return False

    wait_for(healthy, 60, "gunicorn to answer /healthz")
    print("prod-check: /healthz ok")
    home = web.get("/")
    css = re.search(r'href="(/static/[^"]+\.css)"', home)
    if css:
        web.get(css.group(1))
    web.get("/blog/")
    web.get("/no-such-page/", expect=404)
    print("prod-check: public pages and static files ok")

    url, _ = web.post(
        "/admin/login/?next=/admin/",
        {"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "next": "/admin/"},
    )
    if "/admin/login/" in url:
        fail("could not log in to the admin")
    web.get("/admin/")
    url, body = web.post(
        "/admin/mailings/client/add/",
        {"email": "reader@example.org", "full_name": "Reader One", "comment": ""},
    )
    client_id = re.search(r"/admin/mailings/client/(\d+)/change/", url + body)
    _, body = web.post(
        "/admin/mailings/message/add/",
        {
            "subject": "Hello {{ full_name }}",
            "body": "News for {{ full_name }}.",
            "language": "en",
        },
    )
    message_id = re.search(r"/admin/mailings/message/(\d+)/change/", body)
    if not (client_id and message_id):
        fail("adding a client or a message through the admin failed")
    now = datetime.now(UTC)
    start, end = now - timedelta(minutes=1), now + timedelta(days=1)
    url, body = web.post(
        "/admin/mailings/mailing/add/",
        [
            ("message", message_id.group(1)),
            ("clients", client_id.group(1)),
            ("start_at_0", start.strftime("%Y-%m-%d")),
            ("start_at_1", start.strftime("%H:%M:%S")),
            ("end_at_0", end.strftime("%Y-%m-%d")),
            ("end_at_1", end.strftime("%H:%M:%S")),
            ("periodicity", "once"),
        ],
    )
    if url.endswith("/add/"):
        fail("adding a mailing through the admin failed (form errors)")
    print("prod-check: client, message and mailing added through the admin")
    received = wait_for(
        lambda: list(mail_dir.glob("*.eml")), 90, "the cluster to deliver the mailing"
    )
    text = received[0].read_text(errors="replace")
    if "Reader One" not in text or "List-Unsubscribe" not in text:
        fail("the delivered message lacks personalisation or List-Unsubscribe")
    print("prod-check: the cluster delivered the mailing to the SMTP sink")
    wait_for(
        lambda: "success" in web.get("/admin/mailings/attempt/").lower(),
        30,
        "the attempt to be recorded as a success",
    )
    print("prod-check: the attempt is recorded")


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="mailshot-prodcheck-"))
    env = prepare_env(tmp)
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "collectstatic", "--noinput", "-v0")
    manage(env, "setupsuperuser")
    mail_dir = tmp / "mail"
    procs = [
        subprocess.Popen(  # noqa: S603
            [
                PY,
                "manage.py",
                "smtpsink",
                "--port",
                env["SMTP_PORT"],
                "--dir",
                str(mail_dir),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        ),
        subprocess.Popen(  # noqa: S603
            [
                PY,
                "-m",
                "gunicorn",
                "project.wsgi",
                "-c",
                "deploy/gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{env['WEB_PORT']}",
                "--workers",
                "2",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(  # noqa: S603
            [PY, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    try:
        journey(env, mail_dir)
        print("prod-check: passed")
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
