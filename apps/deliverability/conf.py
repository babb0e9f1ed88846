"""Bounce handling settings: ``MAILSHOT_BOUNCE_ADDRESS`` (the VERP base address) and
``MAILSHOT_BOUNCE_IMAP_URL`` (the mailbox the bounces arrive in), read and checked here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

IMAP_SCHEMES = {"imap": 143, "imaps": 993}


@dataclass(frozen=True, slots=True)
class Mailbox:
    host: str
    port: int
    ssl: bool
    username: str
    password: str
    folder: str

    def __str__(self) -> str:  # never shows the password
        scheme = "imaps" if self.ssl else "imap"
        return f"{scheme}://{self.username}@{self.host}:{self.port}/{self.folder}"


def bounce_address() -> tuple[str, str] | None:
    """(local part, domain) of MAILSHOT_BOUNCE_ADDRESS, or None when unset."""
    address = getattr(settings, "MAILSHOT_BOUNCE_ADDRESS", "") or ""
    if not address:
        return None
    local, _, domain = address.rpartition("@")
    return local, domain.lower()


def parse_mailbox(url: str) -> Mailbox:
    """``imaps://user:password@host[:port]/FOLDER`` → Mailbox (ValueError if not)."""
    parts = urlsplit(url)
    if parts.scheme not in IMAP_SCHEMES:
        raise ValueError("the URL must start with imaps:// or imap://")
    if not parts.hostname:
        raise ValueError("the URL names no host")
    if not parts.username:
        raise ValueError("the URL names no user")
    try:
        port = parts.port or IMAP_SCHEMES[parts.scheme]
    except ValueError as exc:
        raise ValueError("the port is not a number") from exc
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    return Mailbox(
        host=parts.hostname,
        port=port,
        ssl=parts.scheme == "imaps",
        username=unquote(parts.username),
        password=unquote(parts.password or ""),
        folder=folder,
    )


def mailbox() -> Mailbox | None:
    url = getattr(settings, "MAILSHOT_BOUNCE_IMAP_URL", "") or ""
    return parse_mailbox(url) if url else None


def check_bounce_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    address = getattr(settings, "MAILSHOT_BOUNCE_ADDRESS", "") or ""
    if address:
        try:
            validate_email(address)
        except ValidationError:
            errors.append(
                Error(
                    f"MAILSHOT_BOUNCE_ADDRESS={address!r} is not an e-mail address.",
                    hint="Set it to the bounce mailbox, e.g. bounces@example.com.",
                    id="deliverability.E001",
                )
            )
        else:
            if "+" in address.partition("@")[0]:
                errors.append(
                    Error(
                        "MAILSHOT_BOUNCE_ADDRESS must not contain '+': Mailshot adds "
                        "'+<token>' to it for each message.",
                        id="deliverability.E002",
                    )
                )
    url = getattr(settings, "MAILSHOT_BOUNCE_IMAP_URL", "") or ""
    if url:
        try:
            parse_mailbox(url)
        except ValueError as exc:
            errors.append(
                Error(
                    f"MAILSHOT_BOUNCE_IMAP_URL cannot be used: {exc}.",
                    hint="Write it as imaps://user:password@host/INBOX.",
                    id="deliverability.E003",
                )
            )
    return errors
