"""Writes of API keys: making one (its secret is returned once, never stored) and
revoking it."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.utils import timezone

from apps.api.models import ApiKey
from apps.users.models import User

KEY_START = "ms_"
PREFIX_BYTES = 6  # 8 characters of base64
# The last-used time is written at most this often: a busy script would otherwise
# write the key's row (and invalidate its cached reads) on every request.
LAST_USED_EVERY = timedelta(minutes=1)


def secret_hash(token: str) -> str:
    """SHA-256 of the whole key: a 256-bit random secret needs no slow hash."""
    return hashlib.sha256(token.encode()).hexdigest()


def api_key_create(
    *,
    owner: User,
    name: str,
    scope: str = ApiKey.Scope.READ,
    expires_at: datetime | None = None,
    key: ApiKey | None = None,
) -> tuple[ApiKey, str]:
    """A new key of `owner` and its full text, which is never seen again.

    ``key`` is an unsaved key filled by a form (the admin's); its name, scope and
    expiry are kept and the secret parts are made here."""
    while True:
        prefix = secrets.token_urlsafe(PREFIX_BYTES).replace("_", "x")
        if not ApiKey.objects.filter(prefix=prefix).exists():
            break
    token = f"{KEY_START}{prefix}_{secrets.token_urlsafe(32)}"
    if key is None:
        key = ApiKey(name=name, scope=scope, expires_at=expires_at)
    key.owner = owner
    key.prefix = prefix
    key.secret_hash = secret_hash(token)
    key.save()
    return key, token


def api_key_revoke(*, key: ApiKey) -> None:
    """The key stops working at once (idempotent: the first revocation time stays)."""
    now = timezone.now()
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=now)
    key.refresh_from_db(fields=["revoked_at"])


def api_key_touch(*, key: ApiKey) -> None:
    """Note that the key was used, at most once per ``LAST_USED_EVERY``."""
    now = timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_EVERY:
        return
    ApiKey.objects.filter(pk=key.pk).exclude(
        last_used_at__gte=now - LAST_USED_EVERY
    ).update(last_used_at=now)
    key.last_used_at = now
