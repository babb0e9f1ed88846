"""The permission matrix of the mailing admin, run against its real URLs.

Alice owns a client, a message, a mailing and one of its attempts. Every role
(alice, bob — another user —, a manager, an editor, a superuser, an anonymous
visitor) tries every operation on each of them, and the outcome is checked both ways:
what is allowed works, what is denied is refused and changes nothing — and another
user's object never shows up in a list, a search, a pop-up or an autocomplete.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from apps.mailings import services
from apps.mailings.models import Attempt, Client, Mailing, Message
from tests.factories import ClientFactory, MailingFactory, MessageFactory

pytestmark = pytest.mark.django_db

ROLES = ("alice", "bob", "manager", "editor", "superuser", "anonymous")

# Expected outcome per role in ROLES order (the anonymous visitor, always sent to the
# login page, is left out):  Y allowed, with alice's object in it;  O allowed, but only
# the person's own objects (alice's is absent);  N denied, nothing changes.
MATRIX: dict[str, dict[str, str]] = {
    "client": {
        "list": "YOYNY",
        "search": "YOYNY",
        "popup": "YOYNY",
        "autocomplete": "YOYNY",
        "view": "YNYNY",
        "history": "YNYNY",
        "add_form": "YYNNY",
        "add": "YYNNY",
        "change": "YNNNY",
        "delete_form": "YNNNY",
        "delete": "YNNNY",
        "delete_selected": "YNNNY",
    },
    "message": {
        "list": "YOYNY",
        "search": "YOYNY",
        "popup": "YOYNY",
        "autocomplete": "YOYNY",
        "view": "YNYNY",
        "history": "YNYNY",
        "add_form": "YYNNY",
        "add": "YYNNY",
        "change": "YNNNY",
        "delete_form": "YNNNY",
        "delete": "YNNNY",
        "delete_selected": "YNNNY",
    },
    "mailing": {
        "list": "YOYNY",
        "search": "YOYNY",
        "popup": "YOYNY",
        "view": "YNYNY",
        "history": "YNYNY",
        "add_form": "YYNNY",
        "add": "YYNNY",
        "change": "YNNNY",
        "delete_form": "YNNNY",
        "delete": "YNNNY",
        "delete_selected": "YNNNY",
        "disable_selected": "NNYNY",
        "enable_selected": "NNYNY",
        "disable_page": "NNYNY",
        "disable": "NNYNY",
        "enable": "NNYNY",
    },
    "attempt": {
        "list": "YOYNY",
        "popup": "YOYNY",
        "view": "YNYNY",
        "history": "YNYNY",
        "add_form": "NNNNN",
        "change": "NNNNN",
        "delete_form": "NNNNN",
        "delete": "NNNNN",
        "delete_selected": "NNNNN",
    },
}

SEARCH_TERMS = {
    "client": "secret.client",
    "message": "Secret subject",
    "mailing": "Mailing subject",
    "attempt": "Mailing subject",
}


@pytest.fixture
def world(alice, bob, manager, editor, superuser):
    client = ClientFactory(
        owner=alice, email="secret.client@alice.example", full_name="Alice Client"
    )
    # The mailing keeps its own message: a message in use cannot be deleted.
    mailing = MailingFactory(
        owner=alice,
        message=MessageFactory(owner=alice, subject="Alice Mailing subject"),
        clients=[client],
    )
    message = MessageFactory(owner=alice, subject="Alice Secret subject")
    now = timezone.now()
    attempt = Attempt.objects.create(
        mailing=mailing,
        attempted_at=now,
        finished_at=now,
        status=Attempt.Status.SUCCESS,
        server_response="250 OK",
        total_count=1,
        sent_count=1,
    )
    services.attempt_created(attempt=attempt)
    # Bob has objects of his own, so "only his own" is not just "nothing".
    bob_client = ClientFactory(owner=bob, email="bob.client@bob.example")
    MailingFactory(
        owner=bob,
        message=MessageFactory(owner=bob, subject="Bob's news"),
        clients=[bob_client],
    )
    return SimpleNamespace(
        client=client,
        message=message,
        mailing=mailing,
        attempt=attempt,
        people={
            "alice": alice,
            "bob": bob,
            "manager": manager,
            "editor": editor,
            "superuser": superuser,
            "anonymous": None,
        },
    )


def url(model: str, view: str, *args) -> str:
    return reverse(f"admin:mailings_{model}_{view}", args=args)


def add_data(model: str, actor) -> dict:
    """A valid add form for `actor` (with their own message and client if needed)."""
    if model == "client":
        return {"email": "new.person@example.net", "full_name": "New Person"}
    if model == "message":
        return {
            "subject": "Fresh news",
            "body": "Hello {{ full_name }}",
            "language": "en",
        }
    owner = actor
    message = MessageFactory.create(owner=owner, subject="Actor's own message")
    client = ClientFactory.create(owner=owner, email="actor.client@example.net")
    start = timezone.now() + timedelta(days=2)
    return {
        "message": message.pk,
        "clients": [client.pk],
        "start_at_0": start.strftime("%Y-%m-%d"),
        "start_at_1": start.strftime("%H:%M:%S"),
        "end_at_0": (start + timedelta(days=3)).strftime("%Y-%m-%d"),
        "end_at_1": start.strftime("%H:%M:%S"),
        "periodicity": "once",
    }


class _InlineFields(HTMLParser):
    """The hidden inputs of a page's inline formsets (management form, ids)."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name") or ""
        if tag == "input" and attrs.get("type") == "hidden" and "-" in name:
            self.data[name] = attrs.get("value") or ""


def inline_fields(http, page_url: str) -> dict:
    """What a browser would send back of the page's inlines (nothing if refused)."""
    response = http.get(page_url)
    parser = _InlineFields()
    if response.status_code == 200:
        parser.feed(response.content.decode())
    return parser.data


def change_data(model: str, obj) -> dict:
    if model == "client":
        return {"email": obj.email, "full_name": "Changed Name", "comment": ""}
    if model == "message":
        return {"subject": "Changed subject", "body": obj.body, "language": "en"}
    if model == "mailing":
        return {
            "message": obj.message_id,
            "clients": [c.pk for c in obj.clients.all()],
            "start_at_0": obj.start_at.strftime("%Y-%m-%d"),
            "start_at_1": obj.start_at.strftime("%H:%M:%S"),
            "end_at_0": obj.end_at.strftime("%Y-%m-%d"),
            "end_at_1": obj.end_at.strftime("%H:%M:%S"),
            "periodicity": "weekly",
        }
    return {"status": "failure", "server_response": "changed"}


def changed(model: str, obj) -> bool:
    obj.refresh_from_db()
    return {
        "client": lambda: obj.full_name == "Changed Name",
        "message": lambda: obj.subject == "Changed subject",
        "mailing": lambda: obj.periodicity == "weekly",
        "attempt": lambda: obj.server_response == "changed",
    }[model]()


def exists(obj) -> bool:
    return type(obj).objects.filter(pk=obj.pk).exists()


MODELS: dict[str, type[Client | Message | Mailing | Attempt]] = {
    "client": Client,
    "message": Message,
    "mailing": Mailing,
    "attempt": Attempt,
}


@dataclass
class Case:
    model: str
    operation: str
    role: str
    expected: str  # "Y", "O", "N" or "login"

    @property
    def id(self) -> str:
        return f"{self.role}-{self.operation}-{self.model}"


def cases() -> list[Case]:
    result = []
    for model, operations in MATRIX.items():
        for operation, outcomes in operations.items():
            for role, expected in zip(ROLES, [*outcomes, "login"], strict=True):
                result.append(Case(model, operation, role, expected))
    return result


def _is_denied_page(response) -> bool:
    """403, or the admin's "does not exist" redirect (which says the same for an
    object that exists but is not yours)."""
    return response.status_code == 403 or (
        response.status_code == 302 and response["Location"] == reverse("admin:index")
    )


def run(case: Case, world, http, actor):
    """Do the operation; return (response, outcome, denied) where outcome is "Y", "O"
    or None and denied() says the refusal looked right and nothing changed."""
    model, op = case.model, case.operation
    obj = getattr(world, model)
    Model = MODELS[model]
    before = Model.objects.count()
    link = url(model, "change", obj.pk)

    if op in ("list", "search", "popup"):
        params = {
            "list": {},
            "search": {"q": SEARCH_TERMS[model]},
            "popup": {"_popup": "1", "_to_field": "id"},
        }[op]
        response = http.get(url(model, "changelist"), params)
        if response.status_code != 200:
            return response, None, lambda: response.status_code == 403
        return response, "Y" if link in response.content.decode() else "O", None

    if op == "autocomplete":
        field = {"client": "clients", "message": "message"}[model]
        response = http.get(
            reverse("admin:autocomplete"),
            {
                "app_label": "mailings",
                "model_name": "mailing",
                "field_name": field,
                "term": SEARCH_TERMS[model].split()[-1][:6],
            },
        )
        if response.status_code != 200:
            return response, None, lambda: response.status_code == 403
        ids = {r["id"] for r in json.loads(response.content)["results"]}
        return response, "Y" if str(obj.pk) in ids else "O", None

    if op in ("view", "history", "delete_form"):
        view = {"view": "change", "history": "history", "delete_form": "delete"}[op]
        response = http.get(url(model, view, obj.pk))
        if response.status_code == 200:
            assert SEARCH_TERMS[model] in response.content.decode()
            return response, "Y", None
        return (
            response,
            None,
            lambda: (
                _is_denied_page(response)
                and SEARCH_TERMS[model] not in response.content.decode()
            ),
        )

    if op == "add_form":
        response = http.get(url(model, "add"))
        if response.status_code == 200:
            return response, "Y", None
        return response, None, lambda: response.status_code == 403

    if op == "add":
        response = http.post(
            url(model, "add"), add_data(model, actor or world.people["alice"])
        )
        if response.status_code == 302 and Model.objects.count() == before + 1:
            added = Model.objects.latest("pk")
            assert not isinstance(added, Attempt), "runs are made by the engine only"
            assert added.owner == actor
            return response, "Y", None
        return (
            response,
            None,
            lambda: response.status_code == 403 and Model.objects.count() == before,
        )

    if op == "change":
        data = {**inline_fields(http, link), **change_data(model, obj)}
        response = http.post(link, data)
        if changed(model, obj):
            assert response.status_code == 302
            return response, "Y", None
        return response, None, lambda: _is_denied_page(response)

    if op == "delete":
        response = http.post(url(model, "delete", obj.pk), {"post": "yes"})
        if not exists(obj):
            return response, "Y", None
        return response, None, lambda: _is_denied_page(response)

    if op == "delete_selected":
        response = http.post(
            url(model, "changelist"),
            {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"},
        )
        if not exists(obj):
            return response, "Y", None
        return response, None, lambda: response.status_code in (200, 302, 403)

    if op in ("disable_selected", "enable_selected", "disable", "enable"):
        enable = op.startswith("enable")
        Mailing.objects.filter(pk=obj.pk).update(is_enabled=not enable)
        if op.endswith("_selected"):
            # A changelist action is a POST of the changelist's own form.
            action = "enable_mailings" if enable else "disable_mailings"
            data = {"action": action, "_selected_action": [obj.pk], "index": "0"}
            response = http.post(url(model, "changelist"), data)
        else:
            # The detail button's confirmation page posts back to the same URL.
            name = "enable_detail" if enable else "disable_detail"
            response = http.post(url(model, name, obj.pk), {"post": "yes"})
        obj.refresh_from_db()
        if obj.is_enabled == enable:
            return response, "Y", None
        return response, None, lambda: response.status_code in (200, 302, 403)

    if op == "disable_page":
        # The detail button is a GET link: it only shows a confirmation page.
        response = http.get(url(model, "disable_detail", obj.pk))
        obj.refresh_from_db()
        assert obj.is_enabled
        if response.status_code == 200:
            assert b'name="post" value="yes"' in response.content
            assert b"csrfmiddlewaretoken" in response.content
            return response, "Y", None
        return response, None, lambda: response.status_code == 403

    raise AssertionError(f"unknown operation {op}")  # a typo in MATRIX


@pytest.mark.parametrize("case", cases(), ids=lambda c: c.id)
def test_permission_matrix(case: Case, world, login):
    actor = world.people[case.role]
    http = login(actor) if actor else HttpClient()
    before = MODELS[case.model].objects.count()

    response, outcome, denied = run(case, world, http, actor)

    if case.expected == "login":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
        assert outcome is None
        assert exists(getattr(world, case.model))
        assert not changed(case.model, getattr(world, case.model))
        assert MODELS[case.model].objects.count() == before
    elif case.expected == "N":
        assert outcome is None, f"{case.id} was allowed ({response.status_code})"
        assert denied(), f"{case.id}: unexpected answer {response.status_code}"
    else:
        assert outcome == case.expected, f"{case.id}: got {outcome}"


# --- Beyond the matrix ---


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("alice", False), ("bob", False), ("manager", False), ("superuser", True)],
)
def test_only_a_superuser_reaches_guardians_object_permissions_page(
    world, login, role, allowed
):
    http = login(world.people[role])
    page = url("client", "permissions", world.client.pk)
    change_page = http.get(url("client", "change", world.client.pk))

    response = http.get(page)

    assert response.status_code == (200 if allowed else 403)
    if change_page.status_code == 200:
        assert (page in change_page.content.decode()) is allowed


def test_a_user_cannot_grant_herself_permissions_through_guardians_user_page(
    world, login
):
    bob = world.people["bob"]
    response = login(bob).post(
        reverse(
            "admin:mailings_client_permissions_manage_user",
            args=[world.client.pk, bob.pk],
        ),
        {"permissions": ["view_client", "change_client"]},
    )

    assert response.status_code == 403
    assert not bob.has_perm("mailings.view_client", world.client)


def test_a_mailing_with_runs_can_be_deleted_by_its_owner(world, login):
    response = login(world.people["alice"]).get(
        url("mailing", "delete", world.mailing.pk)
    )

    assert response.status_code == 200
    assert not response.context["perms_lacking"]


def test_the_owner_column_is_shown_to_managers_only(world, login):
    alices_list = login(world.people["alice"]).get(url("client", "changelist"))
    managers_list = login(world.people["manager"]).get(url("client", "changelist"))

    assert "owner" not in alices_list.context["cl"].list_display
    assert "owner" in managers_list.context["cl"].list_display


def _client_list_queries(http) -> int:
    from cachalot.api import cachalot_disabled
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with cachalot_disabled(), CaptureQueriesContext(connection) as queries:
        response = http.get(url("client", "changelist"))
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("role", ["alice", "manager"])
def test_the_client_list_costs_the_same_queries_for_50_or_500_clients(
    alice, manager, login, role
):
    from apps.mailings.services import grant_owner_permissions

    def add_clients(start: int, count: int) -> None:
        made = Client.objects.bulk_create(
            Client(owner=alice, email=f"c{i}@example.org", full_name=f"Client {i}")
            for i in range(start, start + count)
        )
        grant_owner_permissions(owner=alice, objects=made)

    http = login({"alice": alice, "manager": manager}[role])
    add_clients(0, 50)
    _client_list_queries(http)  # warm the per-process caches (content types)
    with_50 = _client_list_queries(http)
    add_clients(50, 450)
    with_500 = _client_list_queries(http)

    assert with_50 == with_500


@pytest.mark.parametrize(
    ("role", "status"),
    [("alice", 302), ("bob", 404), ("editor", 404), ("manager", 302)],
)
def test_view_on_site_does_not_reveal_whether_someone_elses_mailing_exists(
    world, role, status
):
    from django.contrib.contenttypes.models import ContentType
    from django.http import Http404
    from django.test import RequestFactory

    from apps.core.admin import view_on_site

    content_type = ContentType.objects.get_for_model(Mailing).pk

    def answer(object_id) -> int:
        request = RequestFactory().get("/admin/r/")
        request.user = world.people[role]
        try:
            return view_on_site(request, content_type, str(object_id)).status_code
        except Http404:
            return 404

    assert answer(world.mailing.pk) == status
    assert answer(987654) == 404


def test_the_view_on_site_url_answers_404_for_someone_elses_mailing(world, login):
    from django.contrib.contenttypes.models import ContentType

    content_type = ContentType.objects.get_for_model(Mailing).pk
    url = f"/admin/r/{content_type}/{world.mailing.pk}/"
    assert login(world.people["bob"]).get(url).status_code == 404
    assert (
        login(world.people["bob"]).get(f"/admin/r/{content_type}/987654/").status_code
        == 404
    )
    assert login(world.people["alice"]).get(url).status_code == 302
