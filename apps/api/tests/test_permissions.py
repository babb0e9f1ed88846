"""Every endpoint × every role: the owner (alice), another owner (bob), a manager
(reads everything, writes nothing), an editor (no API), nobody; and each list
agrees with the admin's own list for that person."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.utils import timezone

from apps.api.tests.conftest import Api
from apps.audiences import services as audience_services
from apps.audiences.models import ClientList, Suppression
from apps.mailings import services
from apps.mailings.models import Attempt, Client, Delivery, Mailing, Message
from tests.factories import ClientFactory, MailingFactory, MessageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices(alice):
    """alice's client, message, mailing, run and delivery."""
    client = ClientFactory(owner=alice)
    message = MessageFactory(owner=alice)
    mailing = MailingFactory(owner=alice, clients=[client])
    attempt = Attempt.objects.create(
        mailing=mailing, attempted_at=timezone.now() - timedelta(hours=1)
    )
    services.attempt_created(attempt=attempt)
    delivery = Delivery.objects.create(
        attempt=attempt, client=client, email=client.email, outcome="sent"
    )
    client_list = audience_services.client_list_create(owner=alice, name="News")
    audience_services.list_members_add(client_list=client_list, clients=[client])
    audience_services.suppression_add(email="no@example.org", owner=alice)
    return {
        "clients": client,
        "lists": client_list,
        "messages": message,
        "mailings": mailing,
        "attempts": attempt,
        "deliveries": delivery,
    }


@pytest.fixture
def caller(request, api_as, alice, bob, manager, editor, superuser):
    role = request.param
    if role == "nobody":
        return role, Api(None)
    person = {
        "owner": alice,
        "other": bob,
        "manager": manager,
        "editor": editor,
        "superuser": superuser,
    }[role]
    return role, api_as(person)


ROLES = ["owner", "other", "manager", "editor", "nobody", "superuser"]
DENIED = {"editor": 403, "nobody": 401}


@pytest.mark.parametrize("caller", ROLES, indirect=True)
@pytest.mark.parametrize(
    "resource", ["clients", "lists", "messages", "mailings", "attempts", "deliveries"]
)
def test_who_lists_and_reads_what(caller, alices, resource):
    role, api = caller
    obj = alices[resource]
    listing = api.get(resource)
    detail = api.get(f"{resource}/{obj.pk}")
    if role in DENIED:
        assert listing.status_code == detail.status_code == DENIED[role]
        assert listing["Content-Type"] == "application/problem+json"
        return
    ids = [row["id"] for row in listing.json()["items"]]
    if role == "other":
        assert obj.pk not in ids
        assert detail.status_code == 404
    else:
        assert obj.pk in ids
        assert detail.status_code == 200 and detail.json()["id"] == obj.pk


WRITES = [
    ("PATCH", "clients/{clients}", {"full_name": "Changed"}, 200),
    ("DELETE", "clients/{clients}", None, 204),
    ("PATCH", "messages/{messages}", {"subject": "Changed"}, 200),
    ("DELETE", "messages/{messages}", None, 204),
    ("PATCH", "mailings/{mailings}", {"periodicity": "daily"}, 200),
    ("DELETE", "mailings/{mailings}", None, 204),
    ("POST", "mailings/{mailings}/send", {}, 202),
    ("PATCH", "lists/{lists}", {"name": "Changed"}, 200),
    ("POST", "lists/{lists}/subscribe", {"email": "n@example.org"}, 202),
    ("POST", "lists/{lists}/unsubscribe", {"email": "{email}"}, 200),
    ("DELETE", "lists/{lists}", None, 204),
    ("GET", "mailings/{mailings}/report", None, 200),
]


@pytest.mark.parametrize("caller", ROLES, indirect=True)
@pytest.mark.parametrize(("method", "path", "body", "ok"), WRITES)
def test_who_changes_what(
    caller, alices, method, path, body, ok, django_capture_on_commit_callbacks
):
    role, api = caller
    url = path.format(**{name: obj.pk for name, obj in alices.items()})
    if body and body.get("email") == "{email}":
        body = {"email": alices["clients"].email}
    with django_capture_on_commit_callbacks(execute=False):
        response = api.call(method, url, body)
    expected = {
        "owner": ok,
        "superuser": ok,
        "other": 404,  # someone else's object is not confirmed to exist
        "manager": ok if method == "GET" else 403,
        **DENIED,
    }[role]
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert response["Content-Type"] == "application/problem+json"


CREATES = [
    ("clients", {"email": "new@example.org"}),
    ("lists", {"name": "New"}),
    ("suppressions", {"email": "new@example.org"}),
    ("messages", {"subject": "New", "body": "Body"}),
    ("clients/bulk", {"clients": [{"email": "new@example.org"}]}),
]


@pytest.mark.parametrize("caller", ROLES, indirect=True)
@pytest.mark.parametrize(("path", "body"), CREATES)
def test_who_creates(caller, path, body):
    role, api = caller
    response = api.post(path, body)
    expected = {"manager": 403, **DENIED}.get(role, 200 if "bulk" in path else 201)
    assert response.status_code == expected, response.content


ADMIN_MODELS = {
    "clients": Client,
    "lists": ClientList,
    "suppressions": Suppression,
    "messages": Message,
    "mailings": Mailing,
    "attempts": Attempt,
}


@pytest.mark.parametrize("who", ["alice", "bob", "manager", "superuser"])
def test_every_list_agrees_with_the_admin(
    request, who, alices, bob, api_as, django_assert_max_num_queries
):
    # bob has things of his own too.
    theirs = MailingFactory(owner=bob, clients=[ClientFactory(owner=bob)])
    run = Attempt.objects.create(mailing=theirs, attempted_at=timezone.now())
    services.attempt_created(attempt=run)
    Delivery.objects.create(attempt=run, email="b@example.org", outcome="failed")
    person = request.getfixturevalue(who)
    api = api_as(person)
    http_request = RequestFactory().get("/admin/")
    http_request.user = person
    admin_attempts = None
    for resource, model in ADMIN_MODELS.items():
        model_admin = admin.site.get_model_admin(model)
        in_admin = set(
            model_admin.get_queryset(http_request).values_list("pk", flat=True)
        )
        in_api = {row["id"] for row in api.get(resource, limit=500).json()["items"]}
        assert in_api == in_admin, (who, resource)
        if model is Attempt:
            admin_attempts = in_admin
    # Deliveries are shown on the pages of the runs the admin lets one see.
    in_api = {row["id"] for row in api.get("deliveries", limit=500).json()["items"]}
    assert in_api == set(
        Delivery.objects.filter(attempt__in=admin_attempts).values_list("pk", flat=True)
    )


@pytest.mark.parametrize("resource", [*ADMIN_MODELS, "deliveries"])
def test_an_editor_gets_nothing_from_either(editor, alices, login, api_as, resource):
    assert api_as(editor).get(resource).status_code == 403
    model = ADMIN_MODELS.get(resource, Attempt)
    opts = model._meta
    page = login(editor).get(f"/admin/{opts.app_label}/{opts.model_name}/")
    assert page.status_code == 403
