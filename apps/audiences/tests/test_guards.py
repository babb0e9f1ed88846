"""Guards no other test would miss if they broke (hand-made mutations, see
docs/guards.md).

A public subscription's confirmation link works once, by two checks: the link's
state is compared when it is read (so a used link says so, even on a GET), and again
by the conditional UPDATE that confirms (so two confirmations racing past the first
check do not both win). Each alone kept the existing tests green.

Who may delete a suppression, asked of the admin class itself: the pages hide a
site-wide entry from owners (the list shows only their own), so a per-object check
that let an owner delete one went unnoticed there. The bulk delete and any future
door asks the class, not the list.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from apps.audiences import public_services, services
from apps.audiences.models import ClientList, Subscription, Suppression
from apps.core import permissions

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


# --- the confirmation link of a public subscription: single use ----------------------


@pytest.fixture
def news(alice):
    client_list = ClientList.objects.create(
        owner=alice, name="Garden news", is_public=True, double_opt_in=True
    )
    permissions.owner_permissions_grant(owner=alice, objects=client_list)
    return client_list


def test_a_used_confirmation_link_is_refused_when_opened_again(client, news):
    token = public_services.confirmation_token(news, "ann@example.org", "Ann")
    link = reverse("audiences:confirm", args=[token])
    assert public_services.subscription_confirm(token=token) is not None

    assert public_services.request_from_token(token) is None
    assert client.get(link).status_code == 400


def test_of_two_confirmations_racing_past_the_first_check_only_one_wins(
    news, monkeypatch
):
    token = public_services.confirmation_token(news, "ann@example.org", "Ann")
    # Both requests read the link before either confirmed it.
    read_before = public_services.request_from_token(token)
    assert read_before is not None
    first = public_services.subscription_confirm(token=token)
    assert first is not None
    monkeypatch.setattr(
        public_services, "request_from_token", lambda token: read_before
    )

    second = public_services.subscription_confirm(token=token)

    assert second is None
    assert Subscription.objects.get(client_list=news).confirmed_at == first.confirmed_at
