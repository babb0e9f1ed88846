"""VERP: each delivery's envelope sender names it, so a bounce finds its delivery.

With ``MAILSHOT_BOUNCE_ADDRESS=bounces@example.com`` the delivery with id 1234 is
sent with ``MAIL FROM:<bounces+4d2-<12 hex>@example.com>``; the receiving server
writes it as ``Return-Path`` and sends any bounce there. The 12 hex digits are an
HMAC of the id under the site's secret key, so a made-up address matches nothing.
Tokens are lower case: some servers upper-case a local part, and it is compared
without regard to case.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

from django.conf import settings

from apps.deliverability.conf import bounce_address

SALT = b"mailshot.deliverability.verp"
_TOKEN = re.compile(r"([0-9a-f]{1,12})-([0-9a-f]{12})")


def _digest(delivery_id: int) -> str:
    key = hashlib.sha256(SALT + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, str(delivery_id).encode(), hashlib.sha256).hexdigest()[:12]


def token_for(delivery_id: int) -> str:
    return f"{delivery_id:x}-{_digest(delivery_id)}"


def return_path(delivery_id: int) -> str | None:
    """The envelope sender for one delivery, or None when bounces are not collected."""
    base = bounce_address()
    if base is None:
        return None
    local, domain = base
    return f"{local}+{token_for(delivery_id)}@{domain}"


def delivery_id_from_token(token: str) -> int | None:
    match = _TOKEN.fullmatch(token.strip().lower())
    if not match:
        return None
    delivery_id = int(match.group(1), 16)
    if not hmac.compare_digest(match.group(2), _digest(delivery_id)):
        return None
    return delivery_id


def delivery_id_from_addresses(addresses: Iterable[str]) -> int | None:
    """The delivery a bounce was addressed to (``bounces+<token>@…``), if any of
    `addresses` is a genuine VERP address of this site's bounce mailbox."""
    base = bounce_address()
    if base is None:
        return None
    local, domain = base
    prefix = f"{local.lower()}+"
    for address in addresses:
        address = address.strip().strip("<>").lower()
        user, _, host = address.rpartition("@")
        if host != domain or not user.startswith(prefix):
            continue
        found = delivery_id_from_token(user[len(prefix) :])
        if found is not None:
            return found
    return None
