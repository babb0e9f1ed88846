"""``manage.py fetch_bounces``: read the bounce mailbox now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from apps.deliverability.conf import mailbox, parse_mailbox
from apps.deliverability.mailbox import MailboxUnavailable, fetch_bounces


class Command(BaseCommand):
    help = (
        "Read the bounce mailbox (MAILSHOT_BOUNCE_IMAP_URL) now: match bounces and "
        "complaints to deliveries, suppress dead addresses."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--url", help="An IMAP URL to read instead of MAILSHOT_BOUNCE_IMAP_URL."
        )
        parser.add_argument(
            "--limit", type=int, default=None, help="Read at most this many messages."
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="No progress bar."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            box = parse_mailbox(options["url"]) if options["url"] else mailbox()
        except ValueError as exc:
            raise CommandError(f"The IMAP URL cannot be used: {exc}.") from exc
        if box is None:
            raise CommandError(
                "MAILSHOT_BOUNCE_IMAP_URL is not set (imaps://user:password@host/INBOX)."
            )
        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError("--limit must be 1 or more.")
        bar: tqdm | None = None
        quiet = options["no_progress"] or options["verbosity"] < 1

        def on_total(total: int) -> None:
            nonlocal bar
            if not quiet:
                bar = tqdm(total=total, unit="msg", desc="bounces", file=self.stderr)

        def on_message() -> None:
            if bar is not None:
                bar.update()

        try:
            summary = fetch_bounces(
                box, limit=options["limit"], on_total=on_total, on_message=on_message
            )
        except MailboxUnavailable as exc:
            raise CommandError(str(exc)) from exc
        finally:
            if bar is not None:
                bar.close()
        self.stdout.write(summary.line())
