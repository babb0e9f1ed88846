"""The bytes of each recipient's message, fast, for a whole run of one mailing.

A run composes once (`Content`): the sender's headers, the plain-text part (the
owner's text, else made from the HTML) with its footer, and, for a message with
HTML, the whole HTML document — layout applied, footer in it, CSS inlined. Only
the placeholders are filled in per recipient.

`reference_message` is the reference: it goes through the standard library's
modern e-mail API (``multipart/alternative`` when there is HTML), which costs about
1.4 ms per message (every header is parsed and refolded by the header registry). A
run builds the same message thousands of times with only a few values changing, so
`MessageTemplate` renders the parts that do not change once (the From, Reply-To and
Date header lines, the MIME frame) and writes the per-recipient bytes directly —
byte for byte what the reference produces (a test compares them over many inputs).
Anything outside the plain, well-understood case (non-ASCII or unusual header
values, lines longer than SMTP allows, odd tokens) is built by the reference
instead, so the fast path never has to be clever.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import timezone

from apps.content import footers, layouts
from apps.content.placeholders import substitute
from apps.content.senders import SenderHeaders, sender_headers
from apps.deliverability import tracking as track
from apps.mailings import emails

if TYPE_CHECKING:
    from apps.mailings.models import Mailing, Message

_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
# A display name made of plain words (no characters formataddr would quote).
_NAME = re.compile(r"[A-Za-z0-9-]+(?: [A-Za-z0-9-]+)*")
# A dot-atom address: what the header parser writes back exactly as it read it.
_ADDRESS = re.compile(
    r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
)
# Printable ASCII that cannot be mistaken for an RFC 2047 encoded word.
_PLAIN = re.compile(r"[\x20-\x7e]*")
_SENTINEL = "MAILSHOTSENTINEL7F3A9C"
MAX_LINE = 998
HEADER_LIMIT = 900  # keep well below the line limit: no folding to reproduce
TEST_PREFIX = "[Test] "


@dataclass(frozen=True, slots=True)
class Content:
    """What every recipient of a run gets, before their placeholders are filled."""

    subject: str
    text: str  # the plain-text part, footer included
    html: str  # the whole HTML document, footer included; "" for a text-only message
    from_header: str
    reply_to: str = ""
    mailing_id: int | None = None  # named by the unsubscribe link
    # The MIME boundary of the run: random, so no recipient's text can contain it.
    boundary: str = ""


def site_headers() -> SenderHeaders:
    """The site's own address, as version 1 sent everything (tests, benchmarks)."""
    sender = emails.one_line(settings.DEFAULT_FROM_EMAIL)
    return SenderHeaders(from_header=sender, reply_to="", display_name=sender)


def content_of(
    message: Message,
    *,
    headers: SenderHeaders,
    mailing_id: int | None = None,
    test: bool = False,
) -> Content:
    """Compose `message` once, as sent with `headers` (a test's subject is marked)."""
    language = message.language
    footer_text, footer_html = footers.footer_for(message.owner, language, headers)
    body_text = message.body if message.body.strip() else ""
    html = ""
    if message.body_html.strip():
        if not body_text:
            body_text = layouts.html_to_text(message.body_html)
        frame = (
            message.layout.html
            if message.layout_id and message.layout is not None
            else layouts.default_layout(language)
        )
        html = layouts.document(
            layouts.apply_layout(frame, message.body_html + footer_html),
            language=language,
        )
    return Content(
        subject=(TEST_PREFIX if test else "") + message.subject,
        text=body_text.rstrip() + "\n\n" + footer_text,
        html=html,
        from_header=headers.from_header,
        reply_to=headers.reply_to,
        mailing_id=mailing_id,
        boundary=f"mailshot-{secrets.token_hex(12)}" if html else "",
    )


def content_of_mailing(mailing: Mailing, *, test: bool = False) -> Content:
    """A mailing's message as its runs send it (raises UnverifiedSender when the
    mailing's sender may not be sent as)."""
    return content_of(
        mailing.message,
        headers=sender_headers(mailing),
        mailing_id=mailing.pk,
        test=test,
    )


def plain_content(*, subject: str, body: str) -> Content:
    """A text-only message from the site's address with the default English
    footer (the byte-for-byte tests and the benchmark's plain line)."""
    text, _html = footers.render_footer(
        footers.default_text("en"), site_headers().display_name
    )
    return Content(
        subject=subject,
        text=body.rstrip() + "\n\n" + text,
        html="",
        from_header=site_headers().from_header,
    )


def _context(content: Content, recipient: emails.Recipient) -> dict[str, str]:
    full_name = recipient.full_name.strip()
    return {
        "full_name": full_name,
        "first_name": full_name.split()[0] if full_name else "",
        "email": recipient.email,
        "unsubscribe_url": footers.unsubscribe_url(
            recipient.unsubscribe_token, mailing_id=content.mailing_id
        ),
        "today": timezone.localdate().isoformat(),
    }


def _attributes(recipient: emails.Recipient) -> Mapping[str, object]:
    # A client's own fields, once recipients carry them (the audiences work).
    return getattr(recipient, "attributes", None) or {}


def reference_message(
    content: Content,
    recipient: emails.Recipient,
    message_id: str,
    to_address: str | None = None,
    tracking: tuple[int, int] | None = None,
) -> EmailMessage:
    """The message one recipient receives, built by the standard library.

    `to_address` is the address as sent (an internationalised domain in punycode).
    """
    context = _context(content, recipient)
    attributes = _attributes(recipient)
    msg = EmailMessage(policy=emails.POLICY)
    msg["Subject"] = emails.one_line(substitute(content.subject, context, attributes))
    msg["From"] = content.from_header
    if content.reply_to:
        msg["Reply-To"] = content.reply_to
    msg["To"] = formataddr(
        (
            emails.one_line(recipient.full_name),
            emails.one_line(to_address or recipient.email),
        )
    )
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = message_id
    # RFC 2369 and RFC 8058: mail clients show an "Unsubscribe" button that POSTs here.
    msg["List-Unsubscribe"] = f"<{emails.one_line(context['unsubscribe_url'])}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(substitute(content.text, context, attributes))
    if content.html:
        html = substitute(content.html, context, attributes, html=True)
        if tracking is not None:  # (attempt id, delivery id): this reader's tokens
            html = track.personalise(html, *tracking)
        msg.add_alternative(html, subtype="html")
        msg.set_boundary(content.boundary)
    return msg


def _header_lines(msg: EmailMessage) -> list[bytes]:
    """The message's header block as one bytes item per header (folded lines kept)."""
    head = msg.as_bytes().split(b"\r\n\r\n", 1)[0]
    lines: list[bytes] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and lines:
            lines[-1] += b"\r\n" + line
        else:
            lines.append(line)
    return lines


def _header_line(name: str, value: str) -> bytes:
    probe = EmailMessage(policy=emails.POLICY)
    probe[name] = value
    return _header_lines(probe)[0] + b"\r\n"


def _body(text: str) -> bytes | None:
    """A part's body as the standard library writes it in 7 or 8 bits (None when
    a line is too long for that: the reference then chooses an encoding)."""
    lines = text.encode("utf-8").splitlines()
    if any(len(line) > MAX_LINE for line in lines):
        return None
    return b"\r\n".join(lines) + b"\r\n"


def _cte(body: bytes) -> bytes:
    return b"7bit" if body.isascii() else b"8bit"


class MessageTemplate:
    """build(recipient, message_id, to_address) -> the message's bytes."""

    def __init__(self, content: Content) -> None:
        self.content = content
        self.from_line = _header_line("From", content.from_header)
        self.reply_line = (
            _header_line("Reply-To", content.reply_to) if content.reply_to else b""
        )
        link = footers.unsubscribe_url(_SENTINEL, mailing_id=content.mailing_id)
        self.link_prefix, _, self.link_suffix = link.partition(_SENTINEL)
        boundary = content.boundary.encode("ascii")
        self.fast = (
            link.count(_SENTINEL) == 1
            and link.isascii()
            and " " not in link
            and self.from_line.isascii()
            and self.reply_line.isascii()
            and (not content.html or re.fullmatch(rb"[A-Za-z0-9-]{1,60}", boundary))
        )
        self.multipart_head = (
            b'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="'
            + boundary
            + b'"\r\n\r\n--'
            + boundary
            + b'\r\nContent-Type: text/plain; charset="utf-8"\r\n'
            b"Content-Transfer-Encoding: "
        )
        self.html_head = (
            b"\r\n--" + boundary + b'\r\nContent-Type: text/html; charset="utf-8"\r\n'
            b"Content-Transfer-Encoding: "
        )
        self.multipart_tail = b"\r\n--" + boundary + b"--\r\n"
        self._date_second = -1
        self._date_line = b""

    @classmethod
    def for_mailing(cls, mailing: Mailing) -> MessageTemplate:
        return cls(content_of_mailing(mailing))

    def _date(self) -> bytes:
        second = int(time.time())
        if second != self._date_second:
            self._date_line = _header_line("Date", formatdate(localtime=True))
            self._date_second = second
        return self._date_line

    def slow(
        self,
        recipient: emails.Recipient,
        message_id: str,
        to_address: str,
        tracking: tuple[int, int] | None = None,
    ) -> bytes:
        return reference_message(
            self.content, recipient, message_id, to_address, tracking
        ).as_bytes()

    def build(
        self,
        recipient: emails.Recipient,
        message_id: str,
        to_address: str,
        tracking: tuple[int, int] | None = None,
    ) -> bytes:
        """`tracking` (attempt id, delivery id) fills in the reader's open and click
        tokens when the content was prepared for tracking."""
        token = recipient.unsubscribe_token
        if not (self.fast and _TOKEN.fullmatch(token)):
            return self.slow(recipient, message_id, to_address, tracking)
        content = self.content
        link = self.link_prefix + token + self.link_suffix
        full_name = recipient.full_name.strip()
        context = {
            "full_name": full_name,
            "first_name": full_name.split()[0] if full_name else "",
            "email": recipient.email,
            "unsubscribe_url": link,
            "today": timezone.localdate().isoformat(),
            **emails.attribute_context(recipient.attributes),
        }
        attributes = _attributes(recipient)
        subject = emails.one_line(substitute(content.subject, context, attributes))
        name = emails.one_line(recipient.full_name)
        address = emails.one_line(to_address)
        if not (
            0 < len(subject) <= HEADER_LIMIT
            and _PLAIN.fullmatch(subject)
            and "=?" not in subject
            and "  " not in subject
            and (not name or (len(name) <= HEADER_LIMIT and _NAME.fullmatch(name)))
            and len(address) <= HEADER_LIMIT
            and _ADDRESS.fullmatch(address)
            and len(message_id) <= HEADER_LIMIT
            and _PLAIN.fullmatch(message_id)
        ):
            return self.slow(recipient, message_id, to_address, tracking)
        text = _body(substitute(content.text, context, attributes))
        if text is None:
            return self.slow(recipient, message_id, to_address, tracking)
        to = f"{name} <{address}>" if name else address
        head = (
            b"Subject: ",
            subject.encode("ascii"),
            b"\r\n",
            self.from_line,
            self.reply_line,
            b"To: ",
            to.encode("ascii"),
            b"\r\n",
            self._date(),
            b"Message-ID: ",
            message_id.encode("ascii"),
            b"\r\nList-Unsubscribe: <",
            link.encode("ascii"),
            b">\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
            b"Auto-Submitted: auto-generated\r\n",
        )
        if not content.html:
            return b"".join(
                (
                    *head,
                    b'Content-Type: text/plain; charset="utf-8"\r\n'
                    b"Content-Transfer-Encoding: ",
                    _cte(text),
                    b"\r\nMIME-Version: 1.0\r\n\r\n",
                    text,
                )
            )
        html_text = substitute(content.html, context, attributes, html=True)
        if tracking is not None:
            html_text = track.personalise(html_text, *tracking)
        html = _body(html_text)
        if html is None:
            return self.slow(recipient, message_id, to_address, tracking)
        return b"".join(
            (
                *head,
                self.multipart_head,
                _cte(text),
                b"\r\n\r\n",
                text,
                self.html_head,
                _cte(html),
                b"\r\nMIME-Version: 1.0\r\n\r\n",
                html,
                self.multipart_tail,
            )
        )
