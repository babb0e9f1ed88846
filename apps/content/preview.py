"""What a message or mailing will look like, and "send a test to me".

The preview is the message one recipient would get, built by the same code as a
run (`apps.mailings.compose`) and read back with the standard library: subject,
headers, the text part and the HTML part. It is shown for a client of the owner
picked by e-mail, else for a sample reader.

A test goes to the person's own address or one of their verified sender addresses
only, through the engine's SMTP transport, subject marked "[Test]". It is no
delivery: not in the ledger, not counted in any statistics. Each person may send
`TEST_SENDS_PER_HOUR` tests an hour (a sliding hour, kept in the cache).
"""

from __future__ import annotations

import email
import secrets
import time
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import parseaddr
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.content.senders import (
    UnverifiedSender,
    headers_for_owner,
    verified_identities,
)
from apps.mailings import compose, emails
from apps.mailings.sending.transport import (
    Deferred,
    ServerUnavailable,
    SMTPSession,
    envelope_address,
)

if TYPE_CHECKING:
    from apps.mailings.models import Client, Mailing, Message
    from apps.users.models import User

TEST_SENDS_PER_HOUR = 20
HOUR = 60 * 60
SAMPLE = emails.Recipient(
    email="reader@example.com", full_name="Sample Reader", unsubscribe_token="sample"
)
# The headers a preview lists, in this order.
SHOWN_HEADERS = (
    "Subject",
    "From",
    "Reply-To",
    "To",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
)


@dataclass(frozen=True)
class Preview:
    subject: str
    headers: list[tuple[str, str]]
    text: str
    html: str  # "" for a text-only message
    problem: str = ""  # why it cannot be sent (an unverified sender)


def recipient_of(client: Client | None) -> emails.Recipient:
    if client is None:
        return SAMPLE
    return emails.Recipient(
        email=client.email,
        full_name=client.full_name,
        unsubscribe_token=client.unsubscribe_token,
    )


def content_for(
    *, message: Message, mailing: Mailing | None = None, test: bool = False
) -> compose.Content:
    """The composed message as a run of `mailing` sends it, or as a mailing of its
    owner without a chosen sender would (raises UnverifiedSender)."""
    if mailing is not None:
        return compose.content_of_mailing(mailing, test=test)
    headers = headers_for_owner(message.owner, language=message.language)
    return compose.content_of(message, headers=headers, test=test)


def _parts(msg: EmailMessage) -> tuple[str, str]:
    text = html = ""
    for part in msg.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        charset = part.get_content_charset() or "utf-8"
        decoded = payload.decode(charset, errors="replace")
        if part.get_content_type() == "text/html":
            html = decoded
        else:
            text = decoded
    return text, html


def preview(
    *, message: Message, mailing: Mailing | None = None, client: Client | None = None
) -> Preview:
    try:
        content = content_for(message=message, mailing=mailing)
    except UnverifiedSender as refusal:
        return Preview(
            subject=message.subject, headers=[], text="", html="", problem=str(refusal)
        )
    recipient = recipient_of(client)
    raw = compose.reference_message(
        content, recipient, "<preview@mailshot>", recipient.email
    ).as_bytes()
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    headers = [(name, str(parsed[name])) for name in SHOWN_HEADERS if parsed[name]]
    text, html = _parts(parsed)
    return Preview(
        subject=str(parsed["Subject"]), headers=headers, text=text, html=html
    )


# --- send a test to me ---------------------------------------------------------------


def test_addresses(user: User) -> list[str]:
    """Where `user` may send a test: their own address and their verified senders'."""
    found = [user.email]
    for address in verified_identities(user).values_list("from_email", flat=True):
        if address.lower() not in {a.lower() for a in found}:
            found.append(address)
    return found


def _key(user: User) -> str:
    return f"content:test-sends:{user.pk}"


def test_sends_left(user: User, *, now: float | None = None) -> tuple[int, int]:
    """(tests left this hour, seconds until the next one frees up)."""
    now = time.time() if now is None else now
    sent = [t for t in cache.get(_key(user), []) if t > now - HOUR]
    left = TEST_SENDS_PER_HOUR - len(sent)
    wait = int(min(sent) + HOUR - now) + 1 if left <= 0 and sent else 0
    return max(left, 0), wait


def _count_test_send(user: User, *, now: float) -> None:
    sent = [t for t in cache.get(_key(user), []) if t > now - HOUR]
    cache.set(_key(user), [*sent, now], timeout=HOUR + 60)


@dataclass(frozen=True)
class TestResult:
    ok: bool
    text: str


def send_test(
    *,
    user: User,
    to: str,
    message: Message,
    mailing: Mailing | None = None,
    client: Client | None = None,
) -> TestResult:
    """Send one test of `message` (as `mailing` sends it) to `to`, one of
    `user`'s test addresses, personalised for `client` (default: a sample)."""
    if to.lower() not in {a.lower() for a in test_addresses(user)}:
        return TestResult(
            False, _("A test goes only to your own address or a verified sender's.")
        )
    now = time.time()
    left, wait = test_sends_left(user, now=now)
    if left <= 0:
        minutes = max(1, (wait + 59) // 60)
        return TestResult(
            False,
            ngettext(
                "You have sent %(limit)d tests in the last hour. You can send the "
                "next one in %(minutes)d minute.",
                "You have sent %(limit)d tests in the last hour. You can send the "
                "next one in %(minutes)d minutes.",
                minutes,
            )
            % {"limit": TEST_SENDS_PER_HOUR, "minutes": minutes},
        )
    try:
        content = content_for(message=message, mailing=mailing, test=True)
    except UnverifiedSender as refusal:
        return TestResult(False, str(refusal))
    try:
        rcpt = envelope_address(to)
    except UnicodeError:
        return TestResult(False, _("This address needs SMTPUTF8, which is not used."))
    base = recipient_of(client)
    recipient = emails.Recipient(
        # Never a real client's unsubscribe link: the tester might click it.
        email=rcpt,
        full_name=base.full_name,
        unsubscribe_token=SAMPLE.unsubscribe_token,
    )
    message_id = f"<mailshot.test.{secrets.token_hex(8)}@{emails.message_domain()}>"
    data = compose.MessageTemplate(content).build(recipient, message_id, rcpt)
    _count_test_send(user, now=now)
    session = SMTPSession(retries=0)
    try:
        reply = session.send(_envelope_from(), rcpt, data)
    except (ServerUnavailable, Deferred) as exc:
        return TestResult(
            False,
            _("The mail server did not take the test: %(reply)s")
            % {"reply": str(exc) or _("no reply")},
        )
    finally:
        session.close()
    if reply.outcome != "sent":
        return TestResult(
            False,
            _("The mail server refused the test: %(reply)s") % {"reply": reply.text},
        )
    return TestResult(True, _("A test was sent to %(address)s.") % {"address": to})


def _envelope_from() -> str:
    """The run's envelope sender (bounces come back to the site, not the owner)."""
    sender = settings.DEFAULT_FROM_EMAIL
    return parseaddr(sender)[1] or sender
