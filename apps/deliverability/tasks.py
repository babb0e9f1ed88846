"""The cluster's every-minute read of the bounce mailbox."""

from __future__ import annotations

import logging

from apps.deliverability.conf import mailbox
from apps.deliverability.mailbox import MailboxUnavailable
from apps.deliverability.mailbox import fetch_bounces as fetch

logger = logging.getLogger(__name__)


def fetch_bounces() -> str:
    box = mailbox()
    if box is None:
        return "MAILSHOT_BOUNCE_IMAP_URL is not set"
    try:
        summary = fetch(box, limit=1000)
    except MailboxUnavailable as exc:
        # The next minute tries again; the log says why this one did nothing.
        logger.warning("bounce mailbox: %s", exc)
        return str(exc)
    if summary.read:
        logger.info("bounce mailbox: %s", summary.line())
    return summary.line()


def flush_tracking() -> str:
    """The cluster's minute: opens and clicks buffered in Redis by the web servers."""
    from apps.deliverability import tracking

    return f"{tracking.flush()} opens and clicks written"
