"""Sessions are indexed by user: blocking someone finds their sessions with one query.

Before, ``sessions_delete`` read and decoded every live session of the site to find
the blocked people's ones; its cost grew with everybody else's sessions.
"""

from importlib import import_module
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.base import SessionBase
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.users import roles
from apps.users.models import User
from apps.users.services import sessions_delete, user_block
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def engine():
    return import_module(settings.SESSION_ENGINE).SessionStore


def session_rows():
    return engine().get_model_class().objects


def signed_in_session(user: User) -> str:
    """A saved session of ``user`` as ``login()`` leaves it; returns its key."""
    session = engine()()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "apps.users.backends.EmailBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    assert session.session_key is not None
    return session.session_key


def people(count: int, start: int) -> list[User]:
    """``count`` people without a password hash (cheap to make in bulk)."""
    return User.objects.bulk_create(
        User(email=f"crowd{start + n}@example.com", email_confirmed=True)
        for n in range(count)
    )


def delete_measured(user_ids: set[int]) -> tuple[int, int, int]:
    """(sessions ended, queries run, sessions decoded) by one ``sessions_delete``."""
    decode = SessionBase.decode
    with (
        mock.patch.object(
            SessionBase, "decode", autospec=True, side_effect=decode
        ) as decoded,
        CaptureQueriesContext(connection) as queries,
    ):
        ended = sessions_delete(user_ids=user_ids)
    return ended, len(queries), decoded.call_count


def test_blocking_one_of_many_people_ends_exactly_their_sessions_at_a_flat_cost(
    manager,
):
    measured = []
    start = 0
    for crowd_size in (10, 200):
        crowd = people(crowd_size, start)
        start += crowd_size
        key_of = {person.pk: signed_in_session(person) for person in crowd}
        crowd_keys = set(key_of.values())
        target = crowd[crowd_size // 2]
        # Signed in from a second browser too.
        targets_keys = {key_of[target.pk], signed_in_session(target)}
        crowd_keys |= targets_keys
        assert len(targets_keys) == 2

        ended, queries, decoded = delete_measured({target.pk})

        assert ended == 2
        remaining = set(session_rows().values_list("session_key", flat=True))
        assert remaining.isdisjoint(targets_keys)
        assert crowd_keys - targets_keys <= remaining
        measured.append((crowd_size, queries, decoded))
        session_rows().all().delete()

    (_, small_queries, small_decoded), (_, big_queries, big_decoded) = measured
    assert big_queries == small_queries, measured
    # Nobody else's session is read, let alone decoded.
    assert big_decoded == small_decoded == 0, measured


def test_blocking_through_the_service_leaves_the_crowd_signed_in(manager):
    target = UserFactory(email="target@example.com", group=roles.USERS)
    crowd = people(20, 0)
    crowd_keys = {signed_in_session(person) for person in crowd}
    target_key = signed_in_session(target)

    user_block(user=target, actor=manager)

    remaining = set(session_rows().values_list("session_key", flat=True))
    assert target_key not in remaining
    assert crowd_keys <= remaining
