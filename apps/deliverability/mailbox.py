"""Reading the bounce mailbox over IMAP (imapclient).

Each message is read without marking it seen (``BODY.PEEK[]``), processed and
committed (``processing.apply``), and only then flagged in the mailbox:
``$MailshotDone`` (and ``\\Seen``) when it was understood, ``$MailshotUnmatched``
when it matched no delivery — left unread for a person to look at, counted, never
deleted. A crash between the commit and the flag makes the next run read the
message again, which changes nothing (processing is idempotent).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from apps.deliverability import processing, reports
from apps.deliverability.conf import Mailbox

DONE = b"$MailshotDone"
UNMATCHED = b"$MailshotUnmatched"
SEEN = b"\\Seen"
FETCH_CHUNK = 50
TIMEOUT = 30.0


class MailboxUnavailable(Exception):
    """The mailbox could not be reached or logged into (a readable reason)."""


@dataclass(slots=True)
class FetchSummary:
    read: int = 0
    applied: processing.Applied = field(default_factory=processing.Applied)

    def line(self) -> str:
        a = self.applied
        return (
            f"{self.read} read: {a.hard} hard and {a.soft} soft bounces, "
            f"{a.complaints} complaints, {a.suppressed} addresses suppressed, "
            f"{a.unmatched} not matched, {a.repeated} already recorded"
        )


def _connect(box: Mailbox, timeout: float) -> IMAPClient:
    try:
        client = IMAPClient(
            box.host,
            port=box.port,
            ssl=box.ssl,
            ssl_context=ssl.create_default_context() if box.ssl else None,
            timeout=timeout,
        )
    except (OSError, IMAPClientError) as exc:
        raise MailboxUnavailable(f"cannot connect to {box}: {exc}") from exc
    try:
        client.login(box.username, box.password)
        client.select_folder(box.folder)
    except (OSError, IMAPClientError) as exc:
        try:
            client.logout()
        except (OSError, IMAPClientError):
            pass
        raise MailboxUnavailable(f"cannot open {box}: {exc}") from exc
    return client


def fetch_bounces(
    box: Mailbox,
    *,
    limit: int | None = None,
    timeout: float = TIMEOUT,
    on_total: Callable[[int], None] | None = None,
    on_message: Callable[[], None] | None = None,
) -> FetchSummary:
    """Process the messages of `box` not processed yet (oldest first)."""
    client = _connect(box, timeout)
    summary = FetchSummary()
    try:
        uids = sorted(
            client.search(["NOT", "KEYWORD", DONE, "NOT", "KEYWORD", UNMATCHED])
        )
        if limit is not None:
            uids = uids[:limit]
        if on_total:
            on_total(len(uids))
        for start in range(0, len(uids), FETCH_CHUNK):
            chunk = uids[start : start + FETCH_CHUNK]
            data = client.fetch(chunk, [b"BODY.PEEK[]"])
            for uid in chunk:
                raw = data.get(uid, {}).get(b"BODY[]")
                if raw is None:  # expunged meanwhile
                    continue
                applied = processing.apply(reports.parse(raw), source="imap")
                summary.read += 1
                summary.applied.add(applied)
                understood = applied.matched or (
                    applied.repeated and not applied.unmatched
                )
                client.add_flags([uid], [DONE, SEEN] if understood else [UNMATCHED])
                if on_message:
                    on_message()
    except (OSError, IMAPClientError) as exc:
        raise MailboxUnavailable(f"the connection to {box} failed: {exc}") from exc
    finally:
        try:
            client.logout()
        except (OSError, IMAPClientError):
            pass
    return summary
