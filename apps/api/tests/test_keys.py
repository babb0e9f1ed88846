"""API keys: made in the admin and shown once, stored hashed, expiring, revocable;
a blocked person's keys stop at once; managers only read; editors have no API."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.api import services
from apps.api.models import ApiKey
from apps.api.tests.conftest import Api
from apps.users import services as user_services

pytestmark = pytest.mark.django_db

TOKEN = re.compile(rb"ms_[A-Za-z0-9-]{8}_[A-Za-z0-9_-]{43}")


def _add_key(http, **data):
    return http.post(
        "/admin/api/apikey/add/",
        {
            "name": "shop",
            "scope": "read_write",
            "expires_at_0": "",
            "expires_at_1": "",
            **data,
        },
    )


def test_a_new_key_is_shown_once_and_stored_only_hashed(alice, login):
    http = login(alice)
    response = _add_key(http)

    assert response.status_code == 200
    token = TOKEN.search(response.content).group().decode()
    assert "no-store" in response["Cache-Control"]
    key = ApiKey.objects.get()
    assert key.owner == alice and key.scope == "read_write"
    assert key.secret_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token.startswith(f"ms_{key.prefix}_") and len(key.prefix) == 8
    stored = [str(v) for v in ApiKey.objects.values_list(flat=False).get()]
    assert not any(token in value for value in stored)
    # The list and the key's page show the prefix, never the key.
    listing = http.get("/admin/api/apikey/")
    page = http.get(f"/admin/api/apikey/{key.pk}/change/")
    for shown in (listing, page):
        assert shown.status_code == 200
        assert f"ms_{key.prefix}_".encode() in shown.content
        assert token.encode() not in shown.content
    assert Api(token).get("clients").status_code == 200


def test_a_wrong_or_missing_key_gets_a_401_problem(alice, api_as):
    good = api_as(alice).token
    for token in (None, "nonsense", good[:-1] + ("A" if good[-1] != "A" else "B")):
        response = Api(token).get("clients")
        assert response.status_code == 401
        assert response["Content-Type"] == "application/problem+json"
        assert response["WWW-Authenticate"] == "Bearer"
        assert response.json()["status"] == 401


def test_an_expired_key_is_refused(alice, api_as):
    api = api_as(alice, expires_at=timezone.now() + timedelta(hours=1))
    assert api.get("clients").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert api.get("clients").status_code == 401


def test_a_key_revoked_in_the_admin_stops_at_once(alice, login, api_as):
    api = api_as(alice)
    key = ApiKey.objects.get()
    assert api.get("clients").status_code == 200

    response = login(alice).post(
        "/admin/api/apikey/",
        {"action": "revoke_keys", "_selected_action": [key.pk]},
    )

    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert api.get("clients").status_code == 401


def test_nobody_sees_or_revokes_someone_elses_key(alice, bob, login, api_as):
    bobs = api_as(bob)
    key = ApiKey.objects.get(owner=bob)
    http = login(alice)
    assert http.get(f"/admin/api/apikey/{key.pk}/change/").status_code == 302
    assert b"ms_" + key.prefix.encode() not in http.get("/admin/api/apikey/").content
    http.post(
        "/admin/api/apikey/",
        {"action": "revoke_keys", "_selected_action": [key.pk]},
    )
    key.refresh_from_db()
    assert key.revoked_at is None
    assert bobs.get("clients").status_code == 200


def test_a_blocked_persons_keys_stop_at_once(alice, manager, api_as):
    api = api_as(alice)
    assert api.get("clients").status_code == 200

    user_services.user_block(user=alice, actor=manager)

    response = api.get("clients")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"


def test_a_managers_key_only_reads_whatever_its_scope(manager, api_as):
    api = api_as(manager, scope=ApiKey.Scope.READ_WRITE)
    assert api.get("clients").status_code == 200
    response = api.post("clients", {"email": "x@example.org"})
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"


def test_a_read_only_key_cannot_write(alice, api_as):
    api = api_as(alice, scope=ApiKey.Scope.READ)
    assert api.get("clients").status_code == 200
    assert api.post("clients", {"email": "x@example.org"}).status_code == 403
    assert api.post("messages", {"subject": "s", "body": "b"}).status_code == 403


def test_editors_have_no_api_and_no_keys(editor, login, api_as):
    api = api_as(editor)
    response = api.get("clients")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    http = login(editor)
    assert http.get("/admin/api/apikey/").status_code == 403
    assert _add_key(http).status_code == 403


def test_the_last_use_is_written_at_most_once_a_minute(alice, api_as):
    api = api_as(alice)
    key = ApiKey.objects.get()
    assert key.last_used_at is None
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        api.get("clients")
    key.refresh_from_db()
    assert key.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        api.get("clients")
    key.refresh_from_db()
    assert key.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        api.get("clients")
    key.refresh_from_db()
    assert key.last_used_at == start + timedelta(seconds=61)


def test_revoking_twice_keeps_the_first_time(alice):
    key, _token = services.api_key_create(owner=alice, name="k")
    services.api_key_revoke(key=key)
    first = key.revoked_at
    services.api_key_revoke(key=key)
    assert key.revoked_at == first
