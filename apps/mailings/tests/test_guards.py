"""Guards no other test would miss if they broke (hand-made mutations, see
docs/guards.md)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.audiences.tests.factories import ClientListFactory, SegmentFactory
from apps.content.models import SenderIdentity
from apps.core import permissions
from apps.mailings.models import Mailing
from apps.mailings.tests.test_mailing_form import ADD_URL, field_errors, form_data
from tests.factories import ClientFactory, MessageFactory

pytestmark = pytest.mark.django_db


def _identity(owner, address: str) -> SenderIdentity:
    identity = SenderIdentity.objects.create(
        owner=owner, from_email=address, from_name="Shop", verified_at=timezone.now()
    )
    permissions.owner_permissions_grant(owner=owner, objects=identity)
    return identity


# --- the mailing form: another owner's list, segment or sender ----------------------


@pytest.mark.parametrize("field", ["lists", "segments", "sender"])
def test_a_crafted_post_with_someone_elses_target_or_sender_is_a_form_error(
    alice, bob, login, field
):
    data = form_data(MessageFactory(owner=alice), [ClientFactory(owner=alice)])
    data[field] = {
        "lists": lambda: [ClientListFactory(owner=bob).pk],
        "segments": lambda: [SegmentFactory(owner=bob).pk],
        "sender": lambda: _identity(bob, "bob@shop.example").pk,
    }[field]()

    response = login(alice).post(ADD_URL, data)

    assert response.status_code == 200
    assert field_errors(response, field)
    assert not Mailing.objects.filter(owner=alice).exists()


@pytest.mark.parametrize("field", ["lists", "segments", "sender"])
def test_the_same_post_with_ones_own_target_or_sender_is_accepted(alice, login, field):
    # The other half of the test above: the refusal is about the owner, not the field.
    data = form_data(MessageFactory(owner=alice), [ClientFactory(owner=alice)])
    data[field] = {
        "lists": lambda: [ClientListFactory(owner=alice).pk],
        "segments": lambda: [SegmentFactory(owner=alice).pk],
        "sender": lambda: _identity(alice, "alice@shop.example").pk,
    }[field]()

    response = login(alice).post(ADD_URL, data)

    assert response.status_code == 302, field_errors(response, field)
    assert Mailing.objects.filter(owner=alice).exists()


# --- bulk delete: what the person may delete, not merely see -----------------------


def test_the_bulk_delete_spares_a_client_whose_delete_permission_was_taken_away(
    alice, login
):
    from guardian.utils import get_user_obj_perms_model

    from apps.mailings.models import Client
    from apps.mailings.tests.test_bulk_delete import CLIENTS, add_clients

    keep, *others = add_clients(alice, 3)
    get_user_obj_perms_model(Client).objects.filter(
        content_object_id=keep, permission__codename="delete_client"
    ).delete()

    login(alice).post(
        CLIENTS,
        {
            "action": "delete_selected",
            "_selected_action": [keep, *others],
            "post": "yes",
        },
    )

    assert list(Client.objects.values_list("pk", flat=True)) == [keep]
