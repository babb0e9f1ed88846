"""Reads of API keys, and who may use the API at all."""

from __future__ import annotations

import hmac
import re
from typing import Any

from django.db.models import QuerySet

from apps.api.models import ApiKey
from apps.api.services import secret_hash
from apps.core import permissions
from apps.mailings.models import Client, Mailing, Message

TOKEN = re.compile(r"^ms_([A-Za-z0-9-]{8})_[A-Za-z0-9_-]{20,100}$")


def may_use_api(user: Any) -> bool:
    """People who see clients, messages or mailings: owners, managers, superusers.
    Content editors have nothing the API serves."""
    return any(permissions.may(user, "view", m) for m in (Client, Message, Mailing))


def may_write_api(user: Any) -> bool:
    """Owners and superusers; managers only look, whatever their key's scope."""
    return permissions.may(user, "add", Mailing) or permissions.may(user, "add", Client)


def api_key_for_token(token: str) -> ApiKey | None:
    """The key `token` is, whatever its state (revoked, expired), or None."""
    match = TOKEN.match(token)
    if match is None:
        return None
    key = ApiKey.objects.select_related("owner").filter(prefix=match[1]).first()
    if key is None or not hmac.compare_digest(key.secret_hash, secret_hash(token)):
        return None
    return key


def visible_api_keys(user: Any) -> QuerySet[ApiKey]:
    """A person's own keys; superusers see everybody's (to revoke them)."""
    qs = ApiKey.objects.select_related("owner")
    if not permissions.role(user).active:
        return qs.none()
    if user.is_superuser:
        return qs
    return qs.filter(owner=user)
