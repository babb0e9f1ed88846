"""Guards that no other test would miss if they broke (found by hand-made mutations,
see docs/guards.md).

The admin's per-object change and delete checks: the admin lists only what a person
may view, so opening another owner's change page already fails on the queryset, and
a per-object check that said yes to everybody went unnoticed. Every door that asks
the admin class itself (inlines, actions, the list's member pickers) relies on it.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.utils import timezone

from apps.audiences.models import ClientList, Segment
from apps.audiences.tests.factories import ClientListFactory, SegmentFactory
from apps.core import permissions
from apps.mailings import services
from apps.mailings.models import Attempt, Client, Mailing, Message
from tests.factories import ClientFactory, MailingFactory

pytestmark = pytest.mark.django_db

OWNED_MODELS = (Client, Message, Mailing, Attempt, ClientList, Segment)


def _objects_of(owner) -> None:
    client = ClientFactory(owner=owner)
    mailing = MailingFactory.create(owner=owner, clients=[client])
    now = timezone.now()
    attempt = Attempt.objects.create(
        mailing=mailing, attempted_at=now, finished_at=now, status="success"
    )
    services.attempt_created(attempt=attempt)
    ClientListFactory(owner=owner)
    SegmentFactory(owner=owner)


@pytest.fixture
def people(everyone, alice, bob):
    _objects_of(alice)
    _objects_of(bob)
    return everyone


@pytest.mark.parametrize("role", ["alice", "bob", "manager", "editor", "superuser"])
@pytest.mark.parametrize("model", OWNED_MODELS, ids=lambda m: m.__name__)
def test_the_admin_never_allows_what_the_permission_module_refuses(people, role, model):
    user = people[role]
    request = RequestFactory().get("/admin/")
    request.user = user
    model_admin = admin.site.get_model_admin(model)

    wrong = []
    for obj in model._default_manager.all():
        for action in ("change", "delete"):
            answer = getattr(model_admin, f"has_{action}_permission")(request, obj)
            # An admin may be stricter (a run is read-only for everybody), never
            # looser.
            if answer and not permissions.can(user, action, obj):
                wrong.append(f"{role} {action} {model.__name__} #{obj.pk}: {answer}")
    assert not wrong


@pytest.mark.parametrize("model", OWNED_MODELS, ids=lambda m: m.__name__)
def test_an_owner_may_neither_change_nor_delete_another_owners_object(
    people, alice, bob, model
):
    request = RequestFactory().get("/admin/")
    request.user = bob
    model_admin = admin.site.get_model_admin(model)
    alices = [
        obj
        for obj in model._default_manager.all()
        if permissions.owner_of(obj) == alice
    ]

    assert alices
    for obj in alices:
        assert not model_admin.has_change_permission(request, obj)
        assert not model_admin.has_delete_permission(request, obj)
