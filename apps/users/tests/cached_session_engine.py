"""A cached_db flavour of the users session engine, for tests only: sessions_delete
must drop the cached copy of a deleted session too."""

from django.contrib.sessions.backends import cached_db

from apps.users import sessions


class SessionStore(cached_db.SessionStore, sessions.SessionStore):
    """cached_db's cache on top of the users store (its model, its user column)."""
