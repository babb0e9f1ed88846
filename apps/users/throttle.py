"""Who is asking, and how often: the client's address and the account-mail limits.

The address is read once here for django-axes (``AXES_CLIENT_IP_CALLABLE``) and for
the per-address limits of the registration, re-send and password-reset forms, so a
lockout and a rate limit always count the same person.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str:
    """The address of whoever sent the request, past ``MAILSHOT_TRUSTED_PROXIES``.

    Each trusted proxy appends the peer it saw to X-Forwarded-For, so with N of them
    the client is the N-th entry from the right; anything left of it was written by
    the client and may be forged. With no trusted proxy (the default) the header is
    ignored: whoever can reach the app directly could write anything in it. A
    missing or malformed entry falls back to the peer itself, never to a guess.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.MAILSHOT_TRUSTED_PROXIES
    header = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies <= 0 or not header:
        return remote
    chain = header.split(",")
    # Fewer entries than proxies: the request entered the chain past its first
    # proxy, and the leftmost entry is still one a trusted proxy wrote.
    forwarded = chain[-proxies] if len(chain) >= proxies else chain[0]
    return _valid_ip(forwarded) or remote
