"""Start the web server, the django-q2 cluster and the SMTP sink together (make run).

In order: the ports are checked (a busy one stops everything with one readable line
and a non-zero exit), a development ``.env`` with a generated secret key is written
when there is none (so ``manage.py`` commands run from a shell too), the database is
migrated, the demo data is loaded into an empty database only, and the three
processes start. The banner with the URL is printed once ``/healthz`` answers; when
any of the three stops, the others are stopped and the exit status is non-zero.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

ENV_FILE_HEADER = (
    "# Development settings written by `make run` (never used under tests).\n"
    "# Variables set in the environment win over these. Production sets its own\n"
    "# DJANGO_SECRET_KEY and needs no such file (docs/deploy.md).\n"
)


def split_addr(addr: str) -> tuple[str, int]:
    """ "127.0.0.1:8000", "8000", "[::1]:8000" or "0.0.0.0:8001" → (host, port)."""
    host, _, port = addr.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        number = int(port)
    except ValueError:
        raise CommandError(
            f"{addr!r} is not an address: give a port (PORT=8001) or "
            "host:port (ADDR=127.0.0.1:8001)."
        ) from None
    if not 0 < number < 65536:
        raise CommandError(f"Port {number} is out of range (1-65535).")
    return host, number


def port_is_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As the servers themselves bind: a port left in TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def site_url_for(host: str, port: int) -> str:
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::", "::1", "") else host  # noqa: S104
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def ensure_env_file(path: Path) -> str | None:
    """Write a development `.env` with a generated DJANGO_SECRET_KEY unless the file
    exists; returns the new key, or None when the file was there already."""
    if path.exists():
        return None
    key = secrets.token_urlsafe(50)
    path.write_text(f"{ENV_FILE_HEADER}DJANGO_SECRET_KEY={key}\n", encoding="utf-8")
    path.chmod(0o600)
    return key


class Command(BaseCommand):
    help = "Run the web server, qcluster and the local SMTP sink; Ctrl-C stops all."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--addr",
            default="127.0.0.1:8000",
            help="host:port or port of the web server (default 127.0.0.1:8000).",
        )
        parser.add_argument(
            "--env-file",
            default=str(settings.MAILSHOT_ENV_FILE),
            help="Where the development .env is written when missing.",
        )
        parser.add_argument(
            "--ready-timeout",
            type=float,
            default=120.0,
            help="Seconds to wait for /healthz before giving up.",
        )

    def handle(
        self,
        *args: Any,
        addr: str,
        env_file: str,
        ready_timeout: float,
        **options: Any,
    ) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "rundev is for development: set DJANGO_DEBUG=1 (make run does)."
            )
        host, port = split_addr(addr)
        smtp_host, smtp_port = "127.0.0.1", int(settings.EMAIL_PORT)
        if not port_is_free(host, port):
            raise CommandError(
                f"Port {port} on {host} is already in use; stop what runs there "
                f"or pick another: make run PORT={port + 1}"
            )
        if not port_is_free(smtp_host, smtp_port):
            raise CommandError(
                f"Port {smtp_port} of the local SMTP sink is already in use (another "
                f"`make run`?); pick another: make run EMAIL_PORT={smtp_port + 1}"
            )

        env = os.environ.copy()
        key = ensure_env_file(Path(env_file))
        if key is not None:
            self.stdout.write(f"Wrote {env_file} with a generated DJANGO_SECRET_KEY.")
            env.setdefault("DJANGO_SECRET_KEY", key)
        # Links in mail follow the port, unless SITE_URL was given explicitly.
        site_url = env.get("SITE_URL") or site_url_for(host, port)
        env["SITE_URL"] = site_url
        if host not in ("127.0.0.1", "0.0.0.0", "::", "::1", "localhost"):  # noqa: S104
            hosts = env.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")
            env["DJANGO_ALLOWED_HOSTS"] = f"{hosts},{host}"

        call_command("migrate", interactive=False, verbosity=0)
        call_command("demo", if_empty=True)

        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        web_addr = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        commands = {
            "SMTP sink": [*manage, "smtpsink", "--port", str(smtp_port)],
            "cluster": [*manage, "qcluster"],
            "web server": [*manage, "runserver", web_addr, "--noreload"],
        }
        # `kill` (SIGTERM) stops everything like Ctrl-C does, leaving no orphans.
        signal.signal(signal.SIGTERM, _interrupt)
        procs: dict[str, subprocess.Popen[bytes]] = {}
        failed: str | None = None
        try:
            for name, cmd in commands.items():
                procs[name] = subprocess.Popen(cmd, env=env)  # noqa: S603
            probe_host = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104
            if ":" in probe_host:
                probe_host = f"[{probe_host}]"
            failed = _wait_until_ready(
                f"http://{probe_host}:{port}/healthz", procs, ready_timeout
            )
            if failed is None:
                self._banner(site_url, f"http://{web_addr}/")
                while all(p.poll() is None for p in procs.values()):
                    time.sleep(0.5)
                failed = _stopped(procs)
        except KeyboardInterrupt:
            pass
        finally:
            _stop_all(procs)
        if failed is not None:
            raise CommandError(failed)

    def _banner(self, site_url: str, bound: str) -> None:
        self.stdout.write(
            self.style.SUCCESS(
                f"\nMailshot is running at {site_url}/  (admin: {site_url}/admin/)"
            )
        )
        if not bound.startswith(site_url):
            self.stdout.write(f"(the server listens on {bound})")
        self.stdout.write(
            "Demo logins (password 'mailshot-demo'):\n"
            "  user@example.com     a user with clients, messages and mailings\n"
            "  manager@example.com  a manager\n"
            "  editor@example.com   a content editor\n"
            "  admin@example.com    the superuser\n"
            f"Mail sent by the app is saved under {settings.MAILSHOT_MAIL_DIR}/\n"
            "Press Ctrl-C to stop.\n"
        )


def _stopped(procs: dict[str, subprocess.Popen[bytes]]) -> str | None:
    dead = [(n, p.returncode) for n, p in procs.items() if p.poll() is not None]
    if not dead:
        return None
    return "; ".join(f"the {n} stopped (exit status {code})" for n, code in dead) + (
        " — stopping the rest. Its messages are above."
    )


def _wait_until_ready(
    url: str, procs: dict[str, subprocess.Popen[bytes]], timeout: float
) -> str | None:
    """None once `url` answers (any HTTP status); else why not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (problem := _stopped(procs)) is not None:
            return problem
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (our own URL)
                return None
        except urllib.error.HTTPError:
            return None  # it answers (503 while a check is degraded)
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    return f"The web server did not answer {url} within {timeout:.0f} s."


def _stop_all(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    for p in procs.values():
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + 10
    for p in procs.values():
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
