"""Start the web server, the django-q2 cluster and the SMTP sink together (make run)."""

import os
import signal
import subprocess
import sys
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Run the web server, qcluster and the local SMTP sink; Ctrl-C stops all."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000")

    def handle(self, *args: Any, addr: str, **options: Any) -> None:
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        commands = {
            "smtp": manage + ["smtpsink"],
            "cluster": manage + ["qcluster"],
            "web": manage + ["runserver", addr, "--noreload"],
        }
        # `kill` (SIGTERM) stops everything like Ctrl-C does, leaving no orphans.
        signal.signal(signal.SIGTERM, _interrupt)
        procs = {
            name: subprocess.Popen(cmd, env=os.environ.copy())  # noqa: S603
            for name, cmd in commands.items()
        }
        self.stdout.write(
            self.style.SUCCESS(
                f"\nMailshot is running at http://{addr}/  (admin: /admin/)"
            )
        )
        self.stdout.write(
            "Demo logins (password 'mailshot-demo'):\n"
            "  user@example.com     a user with clients, messages and mailings\n"
            "  manager@example.com  a manager\n"
            "  editor@example.com   a content editor\n"
            "  admin@example.com    the superuser\n"
            f"Mail sent by the app is saved under {settings.MAILSHOT_MAIL_DIR}/\n"
            "Press Ctrl-C to stop.\n"
        )
        try:
            while all(p.poll() is None for p in procs.values()):
                time.sleep(0.5)
            dead = [n for n, p in procs.items() if p.poll() is not None]
            self.stderr.write(f"{', '.join(dead)} stopped; stopping the rest.")
        except KeyboardInterrupt:
            pass
        finally:
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
