"""The footer under every message of a mailing, in the message's language.

An owner may write their own footer per language (``FooterText``); otherwise the
default one, translated, is used. Both name the sender (``{{ sender_name }}``) and
must keep ``{{ unsubscribe_url }}``.

``footer_for`` returns the text and HTML footers with the sender filled in and
``{{ unsubscribe_url }}`` left in place: composing fills it per recipient, like the
placeholders of the message itself. In the HTML footer it stands in an ``href`` and
as the link's text, so it must be substituted HTML-escaped there.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.html import escape, linebreaks
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy, ngettext

from apps.content.models import FooterText, Language

if TYPE_CHECKING:
    from apps.content.senders import SenderHeaders
    from apps.users.models import User

UNSUBSCRIBE = "{{ unsubscribe_url }}"
SENDER = "{{ sender_name }}"
PLACEHOLDERS = ("unsubscribe_url", "sender_name")
# Anything a template engine would read: a placeholder, a tag or a comment.
_TEMPLATE_SYNTAX = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}|\{\{|\{%|\{#", re.S)
_PLACEHOLDER = re.compile(r"\{\{\s*(unsubscribe_url|sender_name)\s*\}\}")
MAX_LENGTH = 2000
# A plain-text signature separator (RFC 3676): mail clients grey out what follows.
SEPARATOR = "-- \n"
HTML_STYLE = "margin:24px 0 0;color:#6b7280;font-size:12px;line-height:1.5"
# The unsubscribe link names the mailing it came with (``?m=<id>-<mac>``): its page
# then speaks the message's language and names its sender. The MAC keeps people
# from reading other mailings' senders by changing the number.
MAILING_PARAMETER = "m"
_REFERENCE = re.compile(r"([0-9]{1,18})-([0-9a-f]{12})")
_SALT = "apps.content.footers.unsubscribe-mailing"

DEFAULT_TEXT = gettext_lazy(
    "You receive this message from {{ sender_name }} because you are on their "
    "mailing list. To unsubscribe, open: {{ unsubscribe_url }}"
)
HELP_TEXT = format_lazy(
    "{} {}",
    gettext_lazy(
        "Plain text under every message in this language. It must contain "
        "{{ unsubscribe_url }} (the recipient's unsubscribe link)."
    ),
    gettext_lazy("{{ sender_name }} is replaced by the sender's name."),
)


def default_text(language: str) -> str:
    """The default footer text in `language`, placeholders kept."""
    with translation.override(language):
        return str(DEFAULT_TEXT)


def validate_footer_text(value: str) -> None:
    """A footer keeps the unsubscribe link and uses no template syntax but the two
    placeholders (the error lists them)."""
    errors: list[ValidationError] = []
    valid = ", ".join(f"{{{{ {name} }}}}" for name in PLACEHOLDERS)
    unknown = [
        match.group(0)
        for match in _TEMPLATE_SYNTAX.finditer(value or "")
        if not _PLACEHOLDER.fullmatch(match.group(0))
    ]
    if unknown:
        errors.append(
            ValidationError(
                ngettext(
                    "%(found)s is not allowed in a footer. Valid placeholders: "
                    "%(valid)s.",
                    "%(found)s are not allowed in a footer. Valid placeholders: "
                    "%(valid)s.",
                    len(unknown),
                )
                % {"found": ", ".join(dict.fromkeys(unknown)), "valid": valid},
                code="placeholder",
            )
        )
    if not any(m.group(1) == "unsubscribe_url" for m in _PLACEHOLDER.finditer(value)):
        errors.append(
            ValidationError(
                gettext(
                    "The footer must contain {{ unsubscribe_url }}: every message "
                    "has to tell its reader how to unsubscribe."
                ),
                code="unsubscribe",
            )
        )
    if len(value) > MAX_LENGTH:
        errors.append(
            ValidationError(
                gettext("A footer is at most %(limit)d characters long.")
                % {"limit": MAX_LENGTH},
                code="max_length",
            )
        )
    if errors:
        raise ValidationError(errors)


def _normalised(text: str) -> str:
    """Each placeholder written one way (``{{ unsubscribe_url }}``), so composing
    finds it whatever spacing the owner typed."""
    return _PLACEHOLDER.sub(lambda m: f"{{{{ {m.group(1)} }}}}", text.strip())


def footer_text(owner: User, language: str) -> str:
    """The owner's footer in `language`, or the default one (placeholders kept)."""
    own = (
        FooterText.objects.filter(owner=owner, language=language)
        .values_list("text", flat=True)
        .first()
    )
    return _normalised(own) if own else default_text(language)


def render_footer(text: str, sender_name: str) -> tuple[str, str]:
    """(text, html) of a footer text: the sender filled in, the link kept."""
    plain = SEPARATOR + text.replace(SENDER, sender_name).replace("\r\n", "\n")
    escaped = escape(text).replace(SENDER, escape(sender_name))
    # A link where the owner put {{ unsubscribe_url }}; composing fills href and
    # text per recipient.
    escaped = escaped.replace(
        UNSUBSCRIBE, f'<a href="{UNSUBSCRIBE}" style="color:#6b7280">{UNSUBSCRIBE}</a>'
    )
    paragraphs = linebreaks(escaped, autoescape=False).replace(
        "<p>", f'<p style="{HTML_STYLE}">'
    )
    html = f'<div class="mailshot-footer">{paragraphs}</div>'
    return plain, html


def footer_for(
    owner: User, language: str, sender: SenderHeaders | str
) -> tuple[str, str]:
    """The (text, html) footer of `owner`'s messages in `language` naming `sender`
    (its headers, or a display name). ``{{ unsubscribe_url }}`` is left in both."""
    if language not in Language.values:
        language = Language.EN
    name = sender if isinstance(sender, str) else sender.display_name
    return render_footer(footer_text(owner, language), name)


def _mac(mailing_id: int) -> str:
    return salted_hmac(_SALT, str(mailing_id), algorithm="sha256").hexdigest()[:12]


def mailing_reference(mailing_id: int) -> str:
    """The value of the unsubscribe link's ``m`` parameter for a mailing."""
    return f"{mailing_id}-{_mac(mailing_id)}"


def mailing_id_from(reference: str | None) -> int | None:
    """The mailing an unsubscribe link's ``m`` parameter names, if it is genuine."""
    match = _REFERENCE.fullmatch(reference or "")
    if match is None:
        return None
    mailing_id = int(match.group(1))
    return (
        mailing_id if constant_time_compare(match.group(2), _mac(mailing_id)) else None
    )


def unsubscribe_url(token: str, *, mailing_id: int | None = None) -> str:
    """The absolute unsubscribe link of a recipient (`token`), naming the mailing
    it was sent with when given (its language and sender then show on the page).
    Only URL-safe characters: nothing to escape in HTML or a header."""
    link = settings.SITE_URL + reverse("mailings:unsubscribe", args=[token])
    if mailing_id is None:
        return link
    return f"{link}?{MAILING_PARAMETER}={mailing_reference(mailing_id)}"
