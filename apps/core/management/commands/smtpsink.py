import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from apps.core.smtpsink import SMTPSink


class Command(BaseCommand):
    help = "Run a local SMTP server that saves every received message as .eml."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=settings.EMAIL_PORT)
        parser.add_argument("--dir", default=str(settings.MAILSHOT_MAIL_DIR))

    def handle(
        self, *args: Any, host: str, port: int, dir: str, **options: Any
    ) -> None:
        sink = SMTPSink(host=host, port=port, directory=dir).start()
        self.stdout.write(f"SMTP sink on {host}:{port}, saving mail to {dir}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            sink.stop()
