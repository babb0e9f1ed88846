"""Checks of untrusted text and ids, shared by models, forms, filters and views.

PostgreSQL refuses a NUL in any string (the driver raises, the request fails with a
500) and SQLite stores it and hands it on to mail headers; other control characters
are never typed by a person and only serve to confuse what reads them next. Ids come
from URLs and query strings: one that is not a plain number the database can hold
(``²`` passes ``str.isdigit()`` but not ``int()``; 30 digits overflow SQLite) must
never reach a query.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# C0 controls but tab, line feed and carriage return; DEL; C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Every character some mail or text parser reads as the end of a line.
_LINE_BREAK = re.compile(r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ID = re.compile(r"[0-9]{1,19}")
MAX_ID = 2**63 - 1  # BigAutoField; SQLite and PostgreSQL's bigint alike


def has_control_characters(value: str, *, multiline: bool = False) -> bool:
    """True when ``value`` holds a control character (tab and line breaks are
    allowed in ``multiline`` text)."""
    pattern = _CONTROL if multiline else _ANY_CONTROL
    return bool(value) and pattern.search(value) is not None


def validate_no_newlines(value: str) -> None:
    """One line of text: no line breaks, no control characters.

    These values end up in mail headers (no header injection) and in the database.
    """
    if not value:
        return
    if _LINE_BREAK.search(value):
        raise ValidationError(_("Line breaks are not allowed here."), code="newline")
    if has_control_characters(value):
        raise ValidationError(
            _("Control characters are not allowed here."), code="control"
        )


def validate_no_control_characters(value: str) -> None:
    """Text of several lines: tabs and line breaks, but no other control character."""
    if has_control_characters(value, multiline=True):
        raise ValidationError(
            _("Control characters are not allowed here."), code="control"
        )


def parse_id(value: object) -> int | None:
    """The id a URL or query string names, or None when it cannot be one.

    Only ASCII digits, no sign or spaces, within the range of a 64-bit key.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 < value <= MAX_ID else None
    if not isinstance(value, str) or not _ID.fullmatch(value):
        return None
    number = int(value)
    return number if 0 < number <= MAX_ID else None


def secret_key_weakness(key: str) -> str | None:
    """Why ``key`` is too weak to sign production sessions and links, or None.

    Django's own deployment check asks for 50 characters, 5 of them different, and
    not its development prefix; a key made of a few repeated characters passes that,
    so the entropy of its characters is counted too (a random key of 50 characters
    holds well over 200 bits; 128 is the floor).
    """
    if key.startswith("django-insecure-"):
        return "it starts with 'django-insecure-', the prefix of development keys"
    if len(key) < 50:
        return f"it is shorter than 50 characters ({len(key)})"
    counts = Counter(key)
    bits = -sum(n * math.log2(n / len(key)) for n in counts.values())
    if len(counts) < 10 or bits < 128:
        return (
            f"its characters carry too little entropy ({len(counts)} different, "
            f"about {bits:.0f} bits)"
        )
    return None
