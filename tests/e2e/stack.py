"""A real Mailshot stack for the browser journeys: the web server, one ``qcluster`` and
the SMTP sink as subprocesses, on a fresh database loaded with the demo data.

PostgreSQL (a fresh ``mailshot_e2e`` database) and Redis (db 8, flushed) when
``DATABASE_URL`` / ``REDIS_URL`` are set, as in CI; otherwise a SQLite file and a file
cache in a temporary ``MAILSHOT_VAR_DIR``, so the journeys run on a fresh clone too.
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
SUPERUSER = ("root.e2e@example.com", "E2e-root-Password-47")
DEMO_PASSWORD = "mailshot-demo"
DB_NAME = "mailshot_e2e"
REDIS_DB = 8


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _fresh_postgres(db_url: str) -> str:
    import psycopg2

    base = db_url.rpartition("/")[0]
    conn = psycopg2.connect(f"{base}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{DB_NAME}"')
    conn.close()
    return f"{base}/{DB_NAME}"


def _fresh_redis(redis_url: str) -> str:
    import redis

    url = redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    redis.Redis.from_url(url).flushdb()
    return url


class Stack:
    """Start with ``Stack().start()``; ``url``, ``mail_dir``, ``mail()``; ``stop()``."""

    def __init__(self) -> None:
        self.var_dir = Path(tempfile.mkdtemp(prefix="mailshot-e2e-"))
        self.mail_dir = self.var_dir / "mail"
        self.log_dir = self.var_dir / "logs"
        self.web_port, self.smtp_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.web_port}"
        self.procs: dict[str, subprocess.Popen] = {}
        self.env = self._env()

    def _env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PYTEST_", "DJANGO_SETTINGS"))
            and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
        }
        env.update(
            DJANGO_SETTINGS_MODULE="project.settings",
            DJANGO_DEBUG="1",
            DJANGO_HTTPS="0",
            MAILSHOT_TESTING="0",
            MAILSHOT_Q_SYNC="0",
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
            SITE_URL=self.url,
            DJANGO_CSRF_TRUSTED_ORIGINS=self.url,
            EMAIL_URL="",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(self.smtp_port),
            MAILSHOT_VAR_DIR=str(self.var_dir),
            MAILSHOT_MEDIA_ROOT=str(self.var_dir / "media"),
            MAILSHOT_CACHE_LOCATION=str(self.var_dir / "cache"),
            MAILSHOT_CACHE_PREFIX="mailshot-e2e",
            LOG_LEVEL=os.environ.get("MAILSHOT_E2E_LOG_LEVEL", "WARNING"),
            PYTHONUNBUFFERED="1",
        )
        if os.environ.get("DATABASE_URL"):
            env["DATABASE_URL"] = _fresh_postgres(os.environ["DATABASE_URL"])
        else:
            env.pop("DATABASE_URL", None)
        if os.environ.get("REDIS_URL"):
            env["REDIS_URL"] = _fresh_redis(os.environ["REDIS_URL"])
        else:
            env.pop("REDIS_URL", None)
        return env

    @property
    def backend(self) -> str:
        return "postgresql+redis" if "DATABASE_URL" in self.env else "sqlite+files"

    def manage(self, *args: str) -> None:
        result = subprocess.run(  # noqa: S603
            [PY, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"manage.py {' '.join(args)} failed:\n{result.stderr[-2000:]}"
            )

    def _spawn(self, name: str, *args: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115
        self.procs[name] = subprocess.Popen(  # noqa: S603
            [PY, *args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start(self) -> Stack:
        media = self.var_dir / "media"
        shutil.copytree(ROOT / "fixtures" / "media", media, dirs_exist_ok=True)
        self.manage("migrate", "--noinput", "-v0")
        fixtures = sorted(str(p) for p in (ROOT / "fixtures").glob("*.json"))
        self.manage("loaddata", *fixtures, "-v0")
        self.manage(
            "setupsuperuser", "--email", SUPERUSER[0], "--password", SUPERUSER[1]
        )
        self._spawn(
            "smtpsink",
            "manage.py",
            "smtpsink",
            "--port",
            str(self.smtp_port),
            "--dir",
            str(self.mail_dir),
        )
        self._spawn("qcluster", "manage.py", "qcluster")
        self._spawn(
            "web", "manage.py", "runserver", f"127.0.0.1:{self.web_port}", "--noreload"
        )
        self._wait_until_up()
        return self

    def _wait_until_up(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited early:\n{self.log_tail(name)}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2):  # noqa: S310
                    return
            except urllib.error.HTTPError:
                return  # answering, even if not every check is green yet
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the web server did not answer:\n{self.log_tail('web')}")

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if os.environ.get("MAILSHOT_E2E_KEEP"):
            print(f"e2e: kept {self.var_dir} (logs/, mail/)")
        else:
            shutil.rmtree(self.var_dir, ignore_errors=True)

    # --- mail -----------------------------------------------------------------------

    def mail(self) -> list[EmailMessage]:
        """Every message the sink has saved so far, oldest first."""
        if not self.mail_dir.exists():
            return []
        return [
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted(self.mail_dir.glob("*.eml"))
        ]

    def wait_for_mail(
        self, to: str, *, subject: str = "", count: int = 1, timeout: float = 30
    ) -> list[EmailMessage]:
        """At least ``count`` messages to ``to`` (subject containing ``subject``)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [
                m
                for m in self.mail()
                if to.lower() in str(m.get("To", "")).lower()
                and subject in str(m.get("Subject", ""))
            ]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(found)} of {count} message(s) to {to} within {timeout} s; "
                    f"the sink holds {len(self.mail())}.\n"
                    f"qcluster log:\n{self.log_tail('qcluster')}"
                )
            time.sleep(0.3)
