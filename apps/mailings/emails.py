"""Building each outgoing message of a mailing, headers included, in one place.

Personalisation is plain string substitution over a fixed set of names: user text is
never evaluated as a template. Header values are made single-line here, so nothing a
user typed can add a header.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, formatdate, parseaddr
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

# The fixed names, or a client attribute with an optional fallback:
# {{ attr.city }}, {{ attr.city|default:"friend" }}.
PLACEHOLDER_RE = re.compile(
    r"\{\{\s*(?:(full_name|first_name|email|unsubscribe_url|today)"
    r"|attr\.([\w-]{1,63})"
    r"(?:\s*\|\s*default\s*:\s*\"([^\"{}\r\n]{0,200})\")?)\s*\}\}"
)
# Long header values (the unsubscribe URL) stay on one line: some receivers misread
# a List-Unsubscribe folded right after the colon.
POLICY = SMTP.clone(max_line_length=998)
_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]+")
# The other control characters (tab aside): older rows or a crafted import may hold
# them, and a NUL or an escape sequence has no business in a header.
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f]+")


@dataclass(frozen=True)
class Recipient:
    email: str
    full_name: str
    unsubscribe_token: str
    # The client's own fields, for {{ attr.NAME }}.
    attributes: Mapping[str, Any] = field(default_factory=dict)


def one_line(value: str) -> str:
    """A header-safe value: every kind of line break becomes a space, and other
    control characters are dropped."""
    return _CONTROLS.sub("", _LINE_BREAKS.sub(" ", value or "")).strip()


def unsubscribe_url(token: str) -> str:
    return settings.SITE_URL + reverse("mailings:unsubscribe", args=[token])


def personalise(text: str, context: dict[str, str]) -> str:
    """One pass of fixed substitutions: a value put in is never read again, so a
    name or an attribute that looks like a placeholder stays as it is."""
    return PLACEHOLDER_RE.sub(lambda m: _placeholder_value(m, context), text)


def _placeholder_value(match: re.Match[str], context: dict[str, str]) -> str:
    name, attribute, fallback = match.groups()
    if name:
        return context[name]
    return context.get(f"attr.{attribute}") or fallback or ""


def attribute_context(attributes: Mapping[str, Any]) -> dict[str, str]:
    """``attr.NAME`` entries of a placeholder context: text, numbers and booleans
    as text; anything else (a list, an object) is left out."""
    if not isinstance(attributes, Mapping):
        return {}
    return {
        f"attr.{key}": str(value)
        for key, value in attributes.items()
        if isinstance(value, str | int | float)
    }


def placeholder_context(recipient: Recipient) -> dict[str, str]:
    full_name = recipient.full_name.strip()
    return {
        "full_name": full_name,
        "first_name": full_name.split()[0] if full_name else "",
        "email": recipient.email,
        "unsubscribe_url": unsubscribe_url(recipient.unsubscribe_token),
        "today": timezone.localdate().isoformat(),
        **attribute_context(recipient.attributes),
    }


def message_domain() -> str:
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return address.rpartition("@")[2] or "localhost"


def make_message_id(
    *, attempt_id: int, delivery_id: int, domain: str | None = None
) -> str:
    """Stable for one delivery: a message resent after a crash keeps its Message-ID,
    so receiving systems can recognise the duplicate. A run passes `domain` (its
    ``message_domain()``, read once) instead of parsing the sender per message."""
    digest = hashlib.sha256(
        f"{settings.SECRET_KEY}:{attempt_id}:{delivery_id}".encode()
    ).hexdigest()[:16]
    return (
        f"<mailshot.{attempt_id}.{delivery_id}.{digest}@{domain or message_domain()}>"
    )


def build_mailing_message(
    *,
    subject: str,
    body: str,
    recipient: Recipient,
    message_id: str,
    to_address: str | None = None,
) -> EmailMessage:
    """The message one recipient of a mailing receives.

    `to_address` is the address as sent (an internationalised domain in punycode).
    """
    context = placeholder_context(recipient)
    link = context["unsubscribe_url"]
    with translation.override(settings.LANGUAGE_CODE):
        footer = render_to_string(
            "mailings/email/footer.txt", {"unsubscribe_url": link}
        )
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = one_line(personalise(subject, context))
    msg["From"] = one_line(settings.DEFAULT_FROM_EMAIL)
    msg["To"] = formataddr(
        (one_line(recipient.full_name), one_line(to_address or recipient.email))
    )
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = message_id
    # RFC 2369 and RFC 8058: mail clients show an "Unsubscribe" button that POSTs here.
    msg["List-Unsubscribe"] = f"<{one_line(link)}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(personalise(body, context).rstrip() + "\n\n" + footer)
    return msg
