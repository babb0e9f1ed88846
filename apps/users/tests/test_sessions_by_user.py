"""Sessions are indexed by user: blocking someone finds their sessions with one query.

Before, ``sessions_delete`` read and decoded every live session of the site to find
the blocked people's ones; its cost grew with everybody else's sessions.
"""

from datetime import timedelta
from importlib import import_module
from types import SimpleNamespace
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.backends.db import SessionStore as DjangoDBStore
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.crypto import get_random_string

from apps.users import roles
from apps.users.models import User, UserSession
from apps.users.services import sessions_delete, user_block
from apps.users.sessions import SessionStore
from tests.factories import PASSWORD, UserFactory

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


# --- The user column follows the session's data ----------------------------------


def user_id_of_row(key: str) -> int | None:
    return UserSession.objects.get(pk=key).user_id


def test_the_engine_is_the_users_store_and_its_model():
    assert engine() is SessionStore
    assert engine().get_model_class() is UserSession


def test_logging_in_through_the_login_view_stores_whose_session_it_is(alice):
    browser = Client()
    response = browser.post(
        "/admin/login/", {"username": "alice@example.com", "password": PASSWORD}
    )

    assert response.status_code == 302
    assert user_id_of_row(browser.session.session_key) == alice.pk
    assert UserSession.objects.filter(user_id=alice.pk).count() == 1


def test_logging_out_leaves_no_session_of_theirs(alice):
    browser = Client()
    browser.post(
        "/admin/login/", {"username": "alice@example.com", "password": PASSWORD}
    )
    signed_in_key = browser.session.session_key

    assert browser.post("/admin/logout/").status_code == 200

    assert not UserSession.objects.filter(pk=signed_in_key).exists()
    assert not UserSession.objects.filter(user_id=alice.pk).exists()
    # Whatever the signed-out browser keeps (a message, say) is nobody's.
    assert set(UserSession.objects.values_list("user_id", flat=True)) <= {None}


def test_signing_in_as_someone_else_in_the_same_browser_switches_the_owner(alice, bob):
    browser = Client()
    browser.post(
        "/admin/login/", {"username": "alice@example.com", "password": PASSWORD}
    )
    browser.post("/admin/login/", {"username": "bob@example.com", "password": PASSWORD})

    assert user_id_of_row(browser.session.session_key) == bob.pk
    assert not UserSession.objects.filter(user_id=alice.pk).exists()


def test_cycle_key_moves_the_owner_to_the_new_key(alice):
    session = SessionStore(session_key=signed_in_session(alice))
    old_key = session.session_key
    session.load()

    session.cycle_key()

    assert session.session_key != old_key
    assert not UserSession.objects.filter(pk=old_key).exists()
    assert user_id_of_row(session.session_key) == alice.pk


def test_an_anonymous_session_belongs_to_nobody():
    session = SessionStore()
    session["cart"] = [1, 2]
    session.save()

    assert user_id_of_row(session.session_key) is None


@pytest.mark.parametrize("stored", ["", "abc", None, "12.5", [3]])
def test_a_user_id_that_is_not_an_integer_is_stored_as_null(stored):
    session = SessionStore()
    session[SESSION_KEY] = stored
    session.save()

    assert user_id_of_row(session.session_key) is None


def test_the_async_save_stores_the_owner_too(alice):
    session = SessionStore()
    session[SESSION_KEY] = str(alice.pk)

    async_to_sync(session.asave)()

    assert user_id_of_row(session.session_key) == alice.pk


# --- sessions_delete with other engines ----------------------------------------------


def test_a_cached_db_flavour_also_loses_the_cached_copy(alice, bob, settings):
    settings.SESSION_ENGINE = "apps.users.tests.cached_session_engine"
    store_class = engine()
    alices = store_class()
    alices[SESSION_KEY] = str(alice.pk)
    alices.save()
    bobs = store_class()
    bobs[SESSION_KEY] = str(bob.pk)
    bobs.save()
    session_cache = caches[settings.SESSION_CACHE_ALIAS]
    assert session_cache.get(alices.cache_key) is not None

    assert sessions_delete(user_ids={alice.pk}) == 1

    assert session_cache.get(alices.cache_key) is None
    assert store_class(session_key=alices.session_key).load() == {}
    assert store_class(session_key=bobs.session_key).load()[SESSION_KEY] == str(bob.pk)


def test_djangos_own_database_engine_is_still_searched_by_decoding(
    alice, bob, settings
):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    alices_key = signed_in_session(alice)
    bobs_key = signed_in_session(bob)

    assert sessions_delete(user_ids={alice.pk}) == 1

    keys = set(Session.objects.values_list("session_key", flat=True))
    assert alices_key not in keys
    assert bobs_key in keys


def test_a_cookie_engine_cannot_be_searched(alice, settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"

    assert sessions_delete(user_ids={alice.pk}) == 0


# --- The migration moves the live sessions -------------------------------------------


migration = import_module("apps.users.migrations.0004_usersession")


def legacy_session(data: dict, *, expires_in: timedelta = timedelta(days=1)) -> str:
    """A row of django_session as Django's own database store wrote it."""
    key = get_random_string(32)
    Session.objects.create(
        session_key=key,
        session_data=DjangoDBStore().encode(data),
        expire_date=timezone.now() + expires_in,
    )
    return key


def test_the_migration_moves_live_sessions_and_fills_the_user_column(alice, bob):
    alices = legacy_session({SESSION_KEY: str(alice.pk), "cart": [1]})
    bobs = legacy_session({SESSION_KEY: str(bob.pk)})
    anonymous = legacy_session({"cart": [2]})
    not_a_number = legacy_session({SESSION_KEY: "x"})
    expired = legacy_session({SESSION_KEY: str(bob.pk)}, expires_in=-timedelta(1))
    corrupt = get_random_string(32)
    Session.objects.create(
        session_key=corrupt,
        session_data="not-signed:garbage",
        expire_date=timezone.now() + timedelta(days=1),
    )
    schema_editor = SimpleNamespace(connection=connection)

    migration.move_sessions_in(django_apps, schema_editor)

    moved = dict(UserSession.objects.values_list("session_key", "user_id"))
    assert moved == {
        alices: alice.pk,
        bobs: bob.pk,
        anonymous: None,
        not_a_number: None,
    }
    assert expired not in moved and corrupt not in moved
    assert not Session.objects.exists()  # no copy left to come back on a rollback
    # The data moved as is: the new store reads it.
    assert SessionStore(session_key=alices).load() == {
        SESSION_KEY: str(alice.pk),
        "cart": [1],
    }
    # And blocking finds the moved session by its user.
    assert sessions_delete(user_ids={alice.pk}) == 1


def test_reversing_the_migration_moves_the_live_sessions_back(alice):
    live = signed_in_session(alice)
    anonymous = SessionStore()
    anonymous["cart"] = [3]
    anonymous.save()
    UserSession.objects.create(
        session_key="e" * 32,
        session_data="x",
        expire_date=timezone.now() - timedelta(days=1),
    )
    Session.objects.create(  # written by the old code meanwhile: the newer one wins
        session_key=live, session_data="old", expire_date=timezone.now()
    )

    migration.move_sessions_out(django_apps, SimpleNamespace(connection=connection))

    assert set(Session.objects.values_list("session_key", flat=True)) == {
        live,
        anonymous.session_key,
    }
    assert DjangoDBStore(session_key=live).load()[SESSION_KEY] == str(alice.pk)
