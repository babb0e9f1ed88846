"""Guards no other test would miss if they broke (hand-made mutations, see
docs/guards.md).

Who may delete a suppression, asked of the admin class itself: the pages hide a
site-wide entry from owners (the list shows only their own), so a per-object check
that let an owner delete one went unnoticed there. The bulk delete and any future
door asks the class, not the list.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory

from apps.audiences import services
from apps.audiences.models import Suppression

pytestmark = pytest.mark.django_db


def _may_delete(user, entry: Suppression) -> bool:
    request = RequestFactory().post("/admin/")
    request.user = user
    return admin.site.get_model_admin(Suppression).has_delete_permission(request, entry)


def test_who_may_delete_which_suppression(alice, bob, manager, editor):
    sitewide = services.suppression_add(email="site@x.example", owner=None)
    manual = services.suppression_add(email="manual@x.example", owner=alice)
    unsubscribed = services.suppression_add(
        email="left@x.example", owner=alice, reason=Suppression.Reason.UNSUBSCRIBED
    )
    bobs = services.suppression_add(email="bobs@x.example", owner=bob)

    allowed = {
        (name, entry): _may_delete(user, obj)
        for name, user in (("alice", alice), ("manager", manager), ("editor", editor))
        for entry, obj in (
            ("sitewide", sitewide),
            ("manual", manual),
            ("unsubscribed", unsubscribed),
            ("bobs", bobs),
        )
    }

    assert {key for key, yes in allowed.items() if yes} == {
        ("alice", "manual"),  # her own manual entry only
        ("manager", "sitewide"),  # managers: site-wide entries only
    }
