"""The placeholders a message may use, checked when it is saved, and filled in for
each recipient when it is sent.

Only a fixed set of names is ever substituted; nothing is evaluated as a template.
So that an owner never sends ``{{ unknown }}`` or ``{% if %}`` to their readers as
typed, any other template syntax is a form error that lists the valid names.

``{{ attr.NAME }}`` is one of the client's own fields (``Client.attributes``), with
an optional ``|default:"text"`` used when the client has no such value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.utils.html import escape
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

FIXED = ("full_name", "first_name", "email", "unsubscribe_url", "today")
ATTRIBUTE_EXAMPLE = 'attr.NAME|default:"…"'
# Everything a template engine would read: a placeholder, a tag, a comment, or an
# opening left unclosed.
_TEMPLATE_SYNTAX = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}|\{\{|\{%|\{#", re.S)
_NAME = r"full_name|first_name|email|unsubscribe_url|today"
# One placeholder: a fixed name, or attr.NAME with an optional default.
PLACEHOLDER = re.compile(
    r"\{\{\s*(?:(?P<name>" + _NAME + r")|attr\.(?P<attr>[A-Za-z_][A-Za-z0-9_]{0,63})"
    r'(?:\s*\|\s*default\s*:\s*"(?P<default>[^"{}]{0,200})")?)\s*\}\}'
)
# A layout also has its slot for the message.
CONTENT = re.compile(r"\{\{\s*content\s*\}\}")


def valid_names(*, layout: bool = False) -> str:
    names = [*(["content"] if layout else []), *FIXED, ATTRIBUTE_EXAMPLE]
    return ", ".join("{{ " + name + " }}" for name in names)


HELP_TEXT = format_lazy(
    "{} {}", _("Placeholders replaced for each recipient:"), valid_names()
)


def unknown_syntax(text: str, *, layout: bool = False) -> list[str]:
    """The pieces of template syntax in `text` that are not valid placeholders."""
    found = []
    for match in _TEMPLATE_SYNTAX.finditer(text or ""):
        piece = match.group(0)
        if PLACEHOLDER.fullmatch(piece) or (layout and CONTENT.fullmatch(piece)):
            continue
        found.append(piece if len(piece) <= 60 else piece[:57] + "…")
    return list(dict.fromkeys(found))


def validate_placeholders(text: str, *, layout: bool = False) -> None:
    """A form error naming each unknown placeholder or piece of template syntax,
    with the list of valid placeholders."""
    unknown = unknown_syntax(text, layout=layout)
    if unknown:
        raise ValidationError(
            ngettext(
                "%(found)s is not a placeholder this message can use. Valid "
                "placeholders: %(valid)s.",
                "%(found)s are not placeholders this message can use. Valid "
                "placeholders: %(valid)s.",
                len(unknown),
            )
            % {"found": ", ".join(unknown), "valid": valid_names(layout=layout)},
            code="placeholder",
        )


def validate_layout_placeholders(text: str) -> None:
    validate_placeholders(text, layout=True)


def substitute(
    text: str,
    context: Mapping[str, str],
    attributes: Mapping[str, object] | None = None,
    *,
    html: bool = False,
) -> str:
    """`text` with each placeholder replaced; values HTML-escaped when `html`
    (a default written in the HTML source is already HTML)."""

    def value(match: re.Match[str]) -> str:
        name = match.group("name")
        if name:
            raw = context.get(name, "")
        else:
            found = (attributes or {}).get(match.group("attr"))
            if found is None or found == "":
                return match.group("default") or ""
            raw = str(found)
        return escape(raw) if html else raw

    return PLACEHOLDER.sub(value, text)
