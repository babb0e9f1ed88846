"""The session engine: Django's database store, plus whose session it is.

``SESSION_ENGINE = "apps.users.sessions"``. Each saved session row carries the id of
the signed-in person (``UserSession.user_id``, indexed), taken from the session's own
data (``django.contrib.auth.SESSION_KEY``) whenever the session is written: login,
``cycle_key`` and logout all save through here, so the column follows the data.
Blocking someone (``services.sessions_delete``) then finds their sessions with one
indexed query. Django's documented way: "Extending database-backed session engines".

The class must stay named ``SessionStore``: the signing salt of the session data is
derived from the class name, and keeping it lets the rows copied from
``django_session`` (migration 0004) and Django's own store decode each other's data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DBStore

if TYPE_CHECKING:
    from apps.users.models import UserSession

    # The stubs make Django's store generic in its model; at run time it is not.
    _DBStore = DBStore[UserSession]
else:
    _DBStore = DBStore


def user_id_of(data: dict[str, Any]) -> int | None:
    """The signed-in person's id in session data (stored as a string), else None."""
    try:
        return int(data[SESSION_KEY])
    except (KeyError, TypeError, ValueError):
        return None


class SessionStore(_DBStore):
    @classmethod
    def get_model_class(cls) -> type[UserSession]:
        from apps.users.models import UserSession

        return UserSession

    def create_model_instance(self, data: dict[str, Any]) -> UserSession:
        obj = super().create_model_instance(data)
        obj.user_id = user_id_of(data)
        return obj

    async def acreate_model_instance(self, data: dict[str, Any]) -> UserSession:
        # Django's async save builds the row itself rather than via the sync method.
        obj = await super().acreate_model_instance(data)
        obj.user_id = user_id_of(data)
        return obj
