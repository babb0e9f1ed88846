"""The permission module itself: each role × model × action, and its doors agreeing.

Alice owns a client, a message, a mailing, one of its runs and that run's delivery;
Bob is another user with objects of his own; then a manager, a content editor, a
superuser and an anonymous visitor. For every object and action the module's
per-object answer (`can`) must match membership of the object in the module's
queryset (`visible`) — the list and the check are one rule.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.db.models import Model
from django.test import RequestFactory
from django.utils import timezone
from guardian.shortcuts import assign_perm
from guardian.utils import get_user_obj_perms_model

from apps.blog.models import Post
from apps.core import permissions
from apps.mailings import selectors, services
from apps.mailings.models import Attempt, Client, Delivery, Mailing, Message
from apps.users.models import User
from tests.factories import (
    ClientFactory,
    MailingFactory,
    MessageFactory,
    PostFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

ROLES = ("alice", "bob", "manager", "editor", "superuser", "anonymous")

# can(role, action, alice's object), in ROLES order: Y allowed, N refused.
OBJECT_RULES: dict[str, dict[str, str]] = {
    "client": {"view": "YNYNYN", "change": "YNNNYN", "delete": "YNNNYN"},
    "message": {"view": "YNYNYN", "change": "YNNNYN", "delete": "YNNNYN"},
    "mailing": {
        "view": "YNYNYN",
        "change": "YNNNYN",
        "delete": "YNNNYN",
        "send": "YNNNYN",
        "toggle": "NNYNYN",
    },
    "attempt": {"view": "YNYNYN", "change": "NNNNYN", "delete": "NNNNYN"},
    "delivery": {"view": "YNYNYN", "change": "NNNNYN", "delete": "NNNNYN"},
    "post": {"view": "NNNYYN", "change": "NNNYYN", "delete": "NNNYYN"},
    "person": {"view": "NNYNYN", "change": "NNNNYN", "block": "NNYNYN"},
}

# may(role, action, model): may the person do this to some objects of the model
# (their own, or all) — what the admin asks before showing a list or a button.
MODEL_RULES: dict[str, dict[str, str]] = {
    "client": {
        "view": "YYYNYN",
        "add": "YYNNYN",
        "change": "YYNNYN",
        "delete": "YYNNYN",
    },
    "message": {
        "view": "YYYNYN",
        "add": "YYNNYN",
        "change": "YYNNYN",
        "delete": "YYNNYN",
    },
    "mailing": {
        "view": "YYYNYN",
        "add": "YYNNYN",
        "change": "YYNNYN",
        "delete": "YYNNYN",
        "send": "YYNNYN",
        "toggle": "NNYNYN",
    },
    "attempt": {
        "view": "YYYNYN",
        "add": "NNNNYN",
        "change": "NNNNYN",
        "delete": "NNNNYN",
    },
    "delivery": {"view": "YYYNYN", "change": "NNNNYN"},
    "post": {"view": "NNNYYN", "add": "NNNYYN", "change": "NNNYYN", "delete": "NNNYYN"},
    "person": {"view": "NNYNYN", "change": "NNNNYN", "block": "NNYNYN"},
}

MODELS: dict[str, type[Model]] = {
    "client": Client,
    "message": Message,
    "mailing": Mailing,
    "attempt": Attempt,
    "delivery": Delivery,
    "post": Post,
    "person": User,
}


def _run(mailing: Mailing, email: str) -> tuple[Attempt, Delivery]:
    now = timezone.now()
    attempt = Attempt.objects.create(
        mailing=mailing, attempted_at=now, finished_at=now, status="success"
    )
    services.attempt_created(attempt=attempt)
    delivery = Delivery.objects.create(attempt=attempt, email=email, outcome="sent")
    return attempt, delivery


@pytest.fixture
def people(everyone) -> dict:
    return everyone


@pytest.fixture
def world(people, alice, bob):
    client = ClientFactory(owner=alice, email="a.client@example.org")
    mailing = MailingFactory(owner=alice, clients=[client])
    attempt, delivery = _run(mailing, client.email)
    bob_client = ClientFactory(owner=bob, email="b.client@example.org")
    bob_mailing = MailingFactory(owner=bob, clients=[bob_client])
    bob_attempt, bob_delivery = _run(bob_mailing, bob_client.email)
    return SimpleNamespace(
        client=client,
        message=MessageFactory(owner=alice),
        mailing=mailing,
        attempt=attempt,
        delivery=delivery,
        post=PostFactory(),
        person=UserFactory(email="carol@example.com"),
        bobs={
            "client": bob_client,
            "message": bob_mailing.message,
            "mailing": bob_mailing,
            "attempt": bob_attempt,
            "delivery": bob_delivery,
        },
        people=people,
    )


# Each case checks every role and action of one model, and lists every answer that
# differs from the table (so a failure names who and what).


@pytest.mark.parametrize("model", OBJECT_RULES)
def test_each_role_may_act_on_alices_objects_as_the_rules_say(world, model):
    obj = getattr(world, model)
    wrong = []
    for action, outcomes in OBJECT_RULES[model].items():
        for role, expected in zip(ROLES, outcomes, strict=True):
            user = world.people[role]
            allowed = expected == "Y"
            listed = permissions.visible(user, MODELS[model], action).filter(pk=obj.pk)
            if permissions.can(user, action, obj) is not allowed:
                wrong.append(f"{role} may {action} the {model}: expected {allowed}")
            if listed.exists() is not allowed:
                wrong.append(f"{role}'s {action} queryset disagrees on the {model}")

    assert not wrong


@pytest.mark.parametrize("model", MODEL_RULES)
def test_each_role_may_act_on_a_kind_of_object_as_the_rules_say(people, model):
    wrong = [
        f"{role} may {action} some {model}: expected {expected == 'Y'}"
        for action, outcomes in MODEL_RULES[model].items()
        for role, expected in zip(ROLES, outcomes, strict=True)
        if permissions.may(people[role], action, MODELS[model]) is not (expected == "Y")
    ]

    assert not wrong


@pytest.mark.parametrize(
    "model", ["client", "message", "mailing", "attempt", "delivery"]
)
def test_a_user_sees_exactly_their_own_objects(world, model):
    def owner(obj):
        return permissions.owner_of(obj.attempt if model == "delivery" else obj)

    everything = list(MODELS[model].objects.all())
    for name in ("alice", "bob"):
        person = world.people[name]
        seen = set(permissions.visible(person, MODELS[model]))
        assert seen == {obj for obj in everything if owner(obj) == person}
    assert world.bobs[model] in permissions.visible(world.people["bob"], MODELS[model])


@pytest.mark.parametrize("model", ["client", "message", "mailing"])
def test_an_owner_without_her_object_permission_is_refused_in_the_list_and_the_check(
    world, alice, model
):
    obj = getattr(world, model)
    model_class = MODELS[model]
    get_user_obj_perms_model(model_class).objects.filter(
        content_object_id=obj.pk, permission__codename=f"change_{model}"
    ).delete()

    assert not permissions.can(alice, "change", obj)
    assert obj not in permissions.visible(alice, model_class, "change")
    assert permissions.can(alice, "view", obj)


def test_a_permission_row_on_someone_elses_object_opens_neither_list_nor_check(
    world, bob
):
    # Guardian's own page (superusers only) could grant this; the owner rule holds.
    assign_perm("mailings.view_client", bob, world.client)

    assert not permissions.can(bob, "view", world.client)
    assert world.client not in permissions.visible(bob, Client)


def test_an_inactive_person_may_do_nothing(world, alice, manager):
    for person in (alice, manager):
        person.is_active = False

        assert not permissions.can(person, "view", world.client)
        assert not permissions.may(person, "view", Client)
        assert not permissions.visible(person, Client).exists()


def test_the_role_is_read_once_and_kept_on_the_user_object(
    alice, django_assert_num_queries
):
    permissions.role(alice)

    with django_assert_num_queries(0):
        for _ in range(3):
            assert permissions.may(alice, "add", Client)
            assert not permissions.sees_all(alice, Client)


def test_a_role_follows_a_change_of_the_active_and_superuser_flags(alice):
    assert not permissions.sees_all(alice, Client)

    alice.is_superuser = True
    assert permissions.sees_all(alice, Client)

    alice.is_superuser = False
    alice.is_active = False
    assert not permissions.may(alice, "add", Client)


def test_an_ownership_is_either_an_owner_path_or_a_parent():
    with pytest.raises(ValueError):
        permissions.register(Post, owner="author", via="author")
    with pytest.raises(ValueError):
        permissions.register(Post)
    assert permissions.ownership(Post) is None


def test_the_owner_of_a_run_is_its_mailings_owner(world, alice):
    assert permissions.owner_of(world.attempt) == alice
    with pytest.raises(LookupError):
        permissions.owner_of(world.delivery)


def test_a_new_object_gets_its_owners_permissions_in_bulk(alice):
    made = Client.objects.bulk_create(
        Client(owner=alice, email=f"bulk{i}@example.org") for i in range(3)
    )
    assert not permissions.visible(alice, Client).exists()

    permissions.owner_permissions_grant(owner=alice, objects=made[:2])
    permissions.owner_permissions_grant_new(owner=alice, model=Client, ids=[made[2].pk])

    for action in ("view", "change", "delete"):
        assert set(permissions.visible(alice, Client, action)) == set(made)


# --- the doors agree ---------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_the_admin_list_the_selector_and_the_object_check_agree(world, role):
    for model in (Client, Message, Mailing, Attempt):
        _assert_doors_agree(world.people[role], model)


def _assert_doors_agree(user, model: type[Model]) -> None:
    request = RequestFactory().get("/admin/")
    request.user = user
    model_admin = admin.site.get_model_admin(model)
    selector = {
        Client: selectors.visible_clients,
        Message: selectors.visible_messages,
        Mailing: selectors.visible_mailings,
        Attempt: selectors.visible_attempts,
    }[model]

    in_admin = set(model_admin.get_queryset(request))
    by_selector = set(selector(user))
    by_check = {
        obj
        for obj in model._default_manager.all()
        if permissions.can(user, "view", obj)
    }

    assert in_admin == by_selector == by_check
    assert model_admin.has_view_permission(request) is permissions.may(
        user, "view", model
    )
    for obj in model._default_manager.all():
        assert model_admin.has_view_permission(request, obj) is (obj in by_check)


@pytest.mark.parametrize("role", ROLES)
def test_the_dashboard_counts_what_the_lists_show(world, role):
    from apps.home.selectors import dashboard_statistics

    user = world.people[role]
    stats = dashboard_statistics(user=user)

    if not permissions.may(user, "view", Mailing):
        assert "mailings_total" not in stats
        return
    assert stats["mailings_total"] == selectors.visible_mailings(user).count()
    assert stats["clients_total"] == selectors.visible_clients(user).count()
    assert {a.pk for a in stats["recent_attempts"]} == set(
        selectors.visible_attempts(user).values_list("pk", flat=True)
    )


def test_an_import_job_is_seen_by_its_uploader_and_superusers_only(people, alice):
    from apps.mailings.models import ClientImport

    job = ClientImport.objects.create(
        owner=alice, file_format="csv", file_name="list.csv", stored_name="x"
    )

    seen_by = {
        role
        for role, user in people.items()
        if job in permissions.visible(user, ClientImport)
        and permissions.can(user, "view", job)
    }

    assert seen_by == {"alice", "superuser"}
