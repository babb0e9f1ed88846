"""Behaviour at the edges: cursor pages, Idempotency-Key, the rate limit, the body
cap, problem documents for every error, the docs page under the site's CSP."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from cachalot.api import cachalot_disabled
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.api.models import IdempotentResponse
from apps.api.tests.conftest import Api
from apps.mailings.models import Client, Mailing
from tests.factories import ClientFactory, MessageFactory

pytestmark = pytest.mark.django_db


def _problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"] == "about:blank"
    return body


# --- pagination -------------------------------------------------------------------


def test_following_next_reads_every_client_once(alice, api_as):
    created = {ClientFactory(owner=alice).pk for _ in range(7)}
    api = api_as(alice)
    seen: list[int] = []
    url = "/api/v1/clients?limit=3"
    pages = 0
    while url:
        body = api.get(url.removeprefix("http://testserver")).json()
        seen += [row["id"] for row in body["items"]]
        url = body["next"]
        pages += 1
    assert pages == 3
    assert seen == sorted(created)


def test_the_next_link_keeps_the_filters(alice, api_as):
    for i in range(3):
        ClientFactory(owner=alice, is_unsubscribed=True, email=f"u{i}@example.org")
    ClientFactory(owner=alice)
    body = api_as(alice).get("clients", limit=2, is_unsubscribed="true").json()
    assert "is_unsubscribed=true" in body["next"] and "cursor=" in body["next"]


@pytest.mark.parametrize(
    "cursor", ["bm9wZQ", "Zm9vOjE", "YzE6LTE", "YzE6OTk5OTk5OTk5OTk5OTk5OTk5OTk"]
)
def test_a_cursor_the_api_did_not_give_is_a_400(alice, api_as, cursor):
    body = _problem(api_as(alice).get("clients", cursor=cursor), 400)
    assert body["errors"][0]["field"] == "cursor"


@pytest.mark.parametrize("limit", ["0", "501", "x", "99999999999999999999999"])
def test_a_limit_out_of_range_is_a_422(alice, api_as, limit):
    body = _problem(api_as(alice).get("clients", limit=limit), 422)
    assert body["errors"][0]["field"] == "limit"


def test_a_page_costs_the_same_queries_for_ten_or_two_hundred_clients(alice, api_as):
    api = api_as(alice)
    api.get("clients")  # the key's last use is written once a minute

    def count() -> int:
        with cachalot_disabled(), CaptureQueriesContext(connection) as queries:
            assert api.get("clients", limit=50).status_code == 200
        return len(queries)

    Client.objects.bulk_create(
        [Client(owner=alice, email=f"a{i}@example.org") for i in range(10)]
    )
    few = count()
    Client.objects.bulk_create(
        [Client(owner=alice, email=f"b{i}@example.org") for i in range(200)]
    )
    assert count() == few <= 6


# --- Idempotency-Key --------------------------------------------------------------


def test_the_same_idempotency_key_twice_makes_one_client(alice, api_as):
    api = api_as(alice)
    body = {"email": "once@example.org"}
    first = api.post("clients", body, headers={"Idempotency-Key": "k-1"})
    again = api.post("clients", body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Client.objects.filter(owner=alice).count() == 1


def test_the_same_idempotency_key_twice_makes_one_mailing(alice, api_as):
    api = api_as(alice)
    message = MessageFactory(owner=alice)
    body = {
        "message_id": message.pk,
        "start_at": "2090-01-01T10:00:00Z",
        "end_at": "2090-02-01T10:00:00Z",
        "to_all_clients": True,
    }
    first = api.post("mailings", body, headers={"Idempotency-Key": "m"})
    again = api.post("mailings", body, headers={"Idempotency-Key": "m"})
    assert first.json()["id"] == again.json()["id"]
    assert Mailing.objects.count() == 1


def test_an_idempotency_key_reused_for_another_body_is_a_422(alice, api_as):
    api = api_as(alice)
    api.post("clients", {"email": "a@example.org"}, headers={"Idempotency-Key": "k"})
    response = api.post(
        "clients", {"email": "b@example.org"}, headers={"Idempotency-Key": "k"}
    )
    assert _problem(response, 422)["errors"][0]["field"] == "Idempotency-Key"
    assert Client.objects.count() == 1


def test_a_refused_request_is_not_remembered_under_its_key(alice, api_as):
    api = api_as(alice)
    bad = api.post("clients", {"email": "nope"}, headers={"Idempotency-Key": "k"})
    assert bad.status_code == 422
    fixed = api.post(
        "clients", {"email": "a@example.org"}, headers={"Idempotency-Key": "k"}
    )
    assert fixed.status_code == 201


def test_an_idempotency_key_is_remembered_for_a_day(alice, api_as):
    api = api_as(alice)
    body = {"email": "once@example.org"}
    api.post("clients", body, headers={"Idempotency-Key": "k"})
    with time_machine.travel(timezone.now() + timedelta(hours=23)):
        again = api.post("clients", body, headers={"Idempotency-Key": "k"})
        assert again["Idempotent-Replayed"] == "true"
    Client.objects.all().delete()
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        later = api.post("clients", body, headers={"Idempotency-Key": "k"})
    assert later.status_code == 201 and "Idempotent-Replayed" not in later
    assert IdempotentResponse.objects.count() == 1


def test_idempotency_keys_are_per_api_key(alice, bob, api_as):
    body = {"email": "same@example.org"}
    api_as(alice).post("clients", body, headers={"Idempotency-Key": "k"})
    response = api_as(bob).post("clients", body, headers={"Idempotency-Key": "k"})
    assert response.status_code == 201
    assert Client.objects.filter(owner=bob).count() == 1


# --- rate, size, errors -----------------------------------------------------------


def test_a_key_over_its_rate_gets_429_with_retry_after(alice, bob, api_as, settings):
    settings.MAILSHOT_API_RATE = 3
    api = api_as(alice)
    for _ in range(3):
        assert api.get("clients").status_code == 200
    response = api.get("clients")
    _problem(response, 429)
    assert 1 <= int(response["Retry-After"]) <= 60
    assert api_as(bob).get("clients").status_code == 200  # per key


def test_a_body_over_the_cap_is_a_413(alice, api_as, settings):
    settings.MAILSHOT_API_MAX_BODY_BYTES = 1000
    response = api_as(alice).post(
        "clients", {"email": "a@example.org", "comment": "x" * 2000}
    )
    _problem(response, 413)
    assert not Client.objects.exists()


def test_malformed_json_is_a_problem_not_a_500(alice, api_as):
    api = api_as(alice)
    response = api.http.post(
        "/api/v1/clients",
        data="{not json",
        content_type="application/json",
        headers=api.headers(),
    )
    assert response.status_code in (400, 422)
    assert response["Content-Type"] == "application/problem+json"


def test_an_id_too_large_for_the_database_is_a_422(alice, api_as):
    _problem(api_as(alice).get("clients/99999999999999999999999"), 422)


def test_control_characters_in_the_address_are_a_400_problem(alice, api_as):
    _problem(api_as(alice).get("clients", email="a%00b"), 400)


def test_an_unknown_address_under_the_api_is_a_404_problem(alice, api_as):
    _problem(api_as(alice).get("nothing-here"), 404)


def test_a_method_a_path_does_not_have_is_a_405_problem(alice, api_as):
    response = api_as(alice).call("PUT", "clients", {})
    _problem(response, 405)


# --- the document and its page ----------------------------------------------------


def test_the_openapi_document_describes_every_resource_and_problem():
    response = Api().get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.")
    for path in (
        "/api/v1/clients",
        "/api/v1/clients/bulk",
        "/api/v1/mailings/{id}/send",
    ):
        assert path in doc["paths"]
    errors = doc["paths"]["/api/v1/clients"]["get"]["responses"]["404"]
    assert "application/problem+json" in errors["content"]
    assert doc["components"]["securitySchemes"]


def test_the_docs_page_works_under_the_sites_csp_without_a_cdn():
    response = Api().get("/api/v1/docs")
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "http" not in csp
    assert b"cdn" not in response.content.lower()
    assert b"/static/ninja/swagger-ui-bundle.js" in response.content


def test_the_admins_user_menu_links_the_keys_and_the_docs(alice, login):
    page = login(alice).get("/admin/")
    assert page.status_code == 200
    assert b'href="/api/v1/docs"' in page.content
    assert b'href="/admin/api/apikey/"' in page.content
