"""Reading a bounce or a complaint: what failed, for whom, and which message it was.

Standard reports are read with the standard library's e-mail parser: delivery
status notifications (RFC 3464, ``multipart/report; report-type=delivery-status``)
and abuse reports (ARF, RFC 5965, ``report-type=feedback-report``). Bounces in other
shapes (qmail, old Exim, Exchange, Gmail's plain text) go to Mailman's detectors
(flufl.bounce), which say which addresses failed, temporarily or for good.

How a report is classified (``classify``):

* status ``5.x.x`` — hard, except where the status is about the message or the
  sender rather than the address: ``x.2.2`` (mailbox full), ``x.2.3`` and ``x.3.4``
  (message too large) and ``x.7.x`` (refused by policy or as spam) are soft;
* status ``4.x.x`` — soft;
* no status (non-standard bounces) — hard when the detector calls the failure
  permanent, soft otherwise.

A DSN whose action is ``delayed``, ``delivered``, ``relayed`` or ``expanded`` is not
a failure and is ignored.
"""

from __future__ import annotations

import email
import hashlib
import logging
import re
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses
from typing import Literal

from flufl.bounce import all_failures

from apps.deliverability import verp

# Mailman's detectors log every detector they try at INFO, and a traceback
# before re-raising when one chokes on odd input (caught in _detected).
logging.getLogger("flufl.bounce").setLevel(logging.CRITICAL)

Kind = Literal["bounce", "complaint", "other"]
BounceType = Literal["hard", "soft"]

# An enhanced status code (RFC 3463): class, subject, detail.
STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
# Message-IDs Mailshot writes (apps.mailings.emails.make_message_id), without
# their angle brackets.
_OUR_ID = r"mailshot\.\d+\.\d+\.[0-9a-f]{16}@[^<>\s\"']+"
# As a returned message quotes them: in angle brackets, as in the header.
OUR_MESSAGE_ID = re.compile(f"<{_OUR_ID}>")
# Anywhere in an ESP's event (JSON, apps.deliverability.webhooks): with or
# without the brackets.
OUR_MESSAGE_ID_ANYWHERE = re.compile(f"<?{_OUR_ID}>?")
_ENVELOPE_HEADERS = (
    "To",
    "Delivered-To",
    "X-Original-To",
    "Envelope-To",
    "X-Envelope-To",
)
SOFT_PERMANENT = {("2", "2"), ("2", "3"), ("3", "4")}
MAX_DIAGNOSTIC = 500


@dataclass(frozen=True, slots=True)
class Failure:
    email: str
    status: str = ""
    diagnostic: str = ""
    permanent: bool = True

    @property
    def bounce_type(self) -> BounceType:
        return classify(self.status, permanent=self.permanent)


@dataclass(frozen=True, slots=True)
class Report:
    kind: Kind
    fingerprint: str
    failures: tuple[Failure, ...] = ()
    # Complaints: whose copy was reported (Original-Rcpt-To, may be empty).
    complainants: tuple[str, ...] = ()
    verp_delivery_id: int | None = None
    message_ids: tuple[str, ...] = field(default=())


def classify(status: str, *, permanent: bool = True) -> BounceType:
    match = STATUS.search(status or "")
    if not match:
        return "hard" if permanent else "soft"
    klass, subject, detail = match.groups()
    if klass != "5":
        return "soft"
    if subject == "7" or (subject, detail) in SOFT_PERMANENT:
        return "soft"
    return "hard"


def _address(value: str) -> str:
    """``rfc822; a@b`` (a DSN address field) or ``A <a@b>`` → ``a@b`` (lower case)."""
    value = (value or "").strip()
    if ";" in value:
        value = value.split(";", 1)[1]
    pairs = getaddresses([value])
    return pairs[0][1].strip().lower() if pairs and pairs[0][1] else ""


def _one_line(value: str | None) -> str:
    return " ".join(str(value or "").split())[:MAX_DIAGNOSTIC]


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        charset = part.get_content_charset() or "utf-8"
        try:
            return payload.decode(charset, errors="replace")
        except LookupError:
            return payload.decode("utf-8", errors="replace")
    return str(part.get_payload() or "")


def _original_message_ids(msg: Message) -> list[str]:
    """Message-IDs of the returned original: from a message/rfc822 or
    text/rfc822-headers part, else any Mailshot Message-ID quoted in the text."""
    found: list[str] = []
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                value = inner[0].get("Message-ID")
                if value:
                    found.append(str(value).strip())
        elif ctype == "text/rfc822-headers":
            inner_msg = email.message_from_string(_text(part))
            value = inner_msg.get("Message-ID")
            if value:
                found.append(str(value).strip())
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            found.extend(OUR_MESSAGE_ID.findall(_text(part)))
    seen: dict[str, None] = {}
    for value in found:
        seen.setdefault(value, None)
    return list(seen)


def _delivery_status(msg: Message) -> list[Failure] | None:
    """Failures reported by the message/delivery-status part, or None without one."""
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            return []
        failures: list[Failure] = []
        for block in blocks[1:]:
            if not isinstance(block, Message):
                continue
            action = str(block.get("Action", "")).strip().lower()
            if action and action != "failed":
                continue
            address = _address(
                str(
                    block.get("Original-Recipient")
                    or block.get("Final-Recipient")
                    or ""
                )
            )
            final = _address(str(block.get("Final-Recipient") or ""))
            status = _one_line(block.get("Status"))
            match = STATUS.search(status)
            failures.append(
                Failure(
                    email=final or address,
                    status=match.group(0) if match else "",
                    diagnostic=_one_line(block.get("Diagnostic-Code")),
                    permanent=not match or match.group(1) == "5",
                )
            )
        return [failure for failure in failures if failure.email]
    return None


def _feedback(msg: Message) -> Message | None:
    for part in msg.walk():
        if part.get_content_type() == "message/feedback-report":
            payload = part.get_payload()
            if (
                isinstance(payload, list)
                and payload
                and isinstance(payload[0], Message)
            ):
                return payload[0]
            return email.message_from_string(str(payload or ""))
    return None


def _detected(msg: Message) -> list[Failure]:
    """Non-standard bounces, through Mailman's detectors."""
    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # noqa: BLE001 - a detector choking on odd input is no bounce
        return []
    text = " ".join(
        _text(part) for part in msg.walk() if part.get_content_maintype() == "text"
    )
    failures: list[Failure] = []
    found = [(a, True) for a in permanent] + [
        (a, False) for a in temporary if a not in permanent
    ]
    for raw, is_permanent in sorted(found):  # the detectors return sets
        address = raw.decode("utf-8", errors="replace").strip().lower()
        if "@" not in address:
            continue
        status, diagnostic = _near(text, address)
        failures.append(
            Failure(
                email=address,
                status=status,
                diagnostic=diagnostic,
                permanent=is_permanent,
            )
        )
    return failures


def _near(text: str, address: str) -> tuple[str, str]:
    """The status code and line that follow `address` in a bounce's text, if any."""
    lowered = text.lower()
    at = lowered.find(address)
    if at < 0:
        return "", ""
    window = text[at : at + 600]
    match = STATUS.search(window)
    line = _one_line(window.splitlines()[1] if len(window.splitlines()) > 1 else window)
    return (match.group(0) if match else ""), line


def parse(raw: bytes) -> Report:
    """Read one message of the bounce mailbox (never raises on malformed input)."""
    fingerprint = hashlib.sha256(raw).hexdigest()
    msg = email.message_from_bytes(raw)
    envelope = [
        address
        for header in _ENVELOPE_HEADERS
        for _name, address in getaddresses([str(v) for v in msg.get_all(header, [])])
    ]
    verp_id = verp.delivery_id_from_addresses(envelope)
    message_ids = tuple(_original_message_ids(msg))
    report = _feedback(msg)
    if report is not None:
        complainants = tuple(
            address
            for value in report.get_all("Original-Rcpt-To", [])
            if (address := _address(str(value)))
        )
        return Report(
            kind="complaint",
            fingerprint=fingerprint,
            complainants=complainants,
            verp_delivery_id=verp_id,
            message_ids=message_ids,
        )
    failures = _delivery_status(msg)
    if failures is None:
        failures = _detected(msg)
    if not failures:
        return Report(
            kind="other",
            fingerprint=fingerprint,
            verp_delivery_id=verp_id,
            message_ids=message_ids,
        )
    return Report(
        kind="bounce",
        fingerprint=fingerprint,
        failures=tuple(failures),
        verp_delivery_id=verp_id,
        message_ids=message_ids,
    )
