"""Reads of mailing objects, each limited to what a person may see.

Who may see what is decided in ``apps.core.permissions`` (the one place): these are
the mailing app's named reads on top of it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from apps.core import permissions
from apps.mailings.models import (
    Attempt,
    Client,
    ClientImport,
    Delivery,
    Mailing,
    Message,
)

# Kept under the names the app's callers know; the rules are the permission module's.
can = permissions.can


def visible_clients(user: Any) -> QuerySet[Client]:
    return permissions.visible(user, Client)


def visible_messages(user: Any) -> QuerySet[Message]:
    return permissions.visible(user, Message)


def visible_mailings(user: Any) -> QuerySet[Mailing]:
    return permissions.visible(user, Mailing)


def visible_attempts(user: Any) -> QuerySet[Attempt]:
    return permissions.visible(user, Attempt)


def visible_deliveries(user: Any) -> QuerySet[Delivery]:
    return permissions.visible(user, Delivery)


def visible_clients_count(user: Any) -> int:
    """How many clients `user` sees, read from the (owner, e-mail) index alone.

    Object permissions are given to the owner only, so a user's clients are their
    own; checking the permission row of each of 100,000 clients would only slow it.
    """
    if permissions.sees_all(user, Client):
        return Client.objects.count()
    if not permissions.role(user).active:
        return 0
    return permissions.owned(user, Client).count()


def owned_clients(owner: Any) -> QuerySet[Client]:
    """What a mailing of `owner` may include: the owner's own clients only."""
    return permissions.owned(owner, Client)


def owned_messages(owner: Any) -> QuerySet[Message]:
    return permissions.owned(owner, Message)


def recent_attempts(user: Any, *, since: datetime, limit: int = 8) -> QuerySet[Attempt]:
    """The newest runs `user` sees, started since `since` (the dashboard's list).

    Read newest first along the attempted_at index, each row checked (EXISTS) for
    being the person's: ordering 100,000 of someone's runs to keep 8 would cost
    far more than reading the newest runs until 8 of theirs turn up.
    """
    return (
        visible_attempts(user)
        .filter(attempted_at__gte=since)
        .select_related("mailing__message")
        .order_by("-attempted_at")[:limit]
    )


def may_list_attempts(user: Any) -> bool:
    """The attempt list and its reports: managers and the owners of mailings."""
    return permissions.may(user, "view", Attempt)


def visible_client_imports(user: Any) -> QuerySet[ClientImport]:
    """Import jobs: the person who uploaded the file, and superusers. Not managers:
    a job's report quotes rows of someone's file."""
    return permissions.visible(user, ClientImport)
