"""Who is asking, and how often: the client's address and the account-mail limits.

The address is read once here for django-axes (``AXES_CLIENT_IP_CALLABLE``) and for
the per-address limits of the registration, re-send and password-reset forms, so a
lockout and a rate limit always count the same person.
"""

from __future__ import annotations

import ipaddress
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def _valid_ip(value: str) -> str | None:
    """The address in an X-Forwarded-For entry; some load balancers add a port."""
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [2001:db8::1]:443
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # 203.0.113.9:443
        value = value.split(":")[0]
    try:
        return str(ipaddress.ip_address(value))
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


# One window for every account-mail limit: long enough to stop a slow, steady
# stream, short enough that a family behind one address is not shut out for long.
WINDOW_SECONDS = 60 * 60


def _count(key: str, timeout: int) -> int:
    """Add one to a counter that lives ``timeout`` seconds; return the new value."""
    if cache.add(key, 1, timeout=timeout):
        return 1
    try:
        value = cache.incr(key)
    except ValueError:  # expired or evicted since add(): start again
        cache.set(key, 1, timeout=timeout)
        return 1
    # Redis keeps the key's expiry on INCR; Django's file cache re-saves the value
    # with the default timeout (5 minutes), which would forget the count too early.
    cache.touch(key, timeout=timeout)
    return value


def account_mail_retry_after(*, request: HttpRequest, action: str) -> int | None:
    """Count one submission of an account-mail form; seconds to wait if over a limit.

    ``MAILSHOT_ACCOUNT_MAIL_PER_IP`` submissions of each form per client address and
    ``MAILSHOT_ACCOUNT_MAIL_GLOBAL`` for the whole site, per hour (fixed windows).
    The per-account limit of one mail a minute still applies within them. An address
    already over its own limit is refused before it can use up the site's.
    """
    now = int(time.time())
    window = now // WINDOW_SECONDS
    window_end = (window + 1) * WINDOW_SECONDS
    prefix = f"users:rate:{action}:{window}"
    limits = (
        (f"{prefix}:ip:{client_ip(request)}", settings.MAILSHOT_ACCOUNT_MAIL_PER_IP),
        (f"{prefix}:all", settings.MAILSHOT_ACCOUNT_MAIL_GLOBAL),
    )
    for key, limit in limits:
        if _count(key, timeout=window_end - now + 60) > limit:
            return window_end - now
    return None
