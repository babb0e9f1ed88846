"""Messages with HTML, a layout and a language; sender identities (read only);
a mailing's sender among the owner's verified identities."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.content.models import Layout, SenderIdentity
from apps.core import permissions
from apps.mailings.models import Message
from tests.factories import MessageFactory

pytestmark = pytest.mark.django_db

LAYOUT_HTML = "<html><body><div>{{ content }}</div></body></html>"


def _layout(owner):
    layout = Layout.objects.create(owner=owner, name="Mine", html=LAYOUT_HTML)
    permissions.owner_permissions_grant(owner=owner, objects=layout)
    return layout


def _identity(owner, address, *, verified=True):
    identity = SenderIdentity.objects.create(
        owner=owner,
        from_name="Shop",
        from_email=address,
        verified_at=timezone.now() if verified else None,
    )
    permissions.owner_permissions_grant(owner=owner, objects=identity)
    return identity


def test_a_message_with_html_is_sanitised_and_keeps_its_layout(alice, api_as):
    layout = _layout(alice)
    response = api_as(alice).post(
        "messages",
        {
            "subject": "News",
            "body_html": "<p>Hi {{ full_name }}</p><script>alert(1)</script>",
            "layout_id": layout.pk,
            "language": "ru",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert "<script" not in body["body_html"] and "Hi" in body["body_html"]
    message = Message.objects.get(pk=body["id"])
    assert (message.layout, message.language) == (layout, "ru")


def test_someone_elses_or_a_missing_layout_is_a_field_error(alice, bob, api_as):
    theirs = _layout(bob)
    api = api_as(alice)
    for layout_id in (theirs.pk, theirs.pk + 1000):
        response = api.post(
            "messages", {"subject": "S", "body": "B", "layout_id": layout_id}
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "layout_id"


def test_a_message_needs_text_or_html(alice, api_as):
    response = api_as(alice).post("messages", {"subject": "S"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"


def test_sender_identities_are_read_by_their_owner_only(alice, bob, api_as):
    mine = _identity(alice, "news@alice.example")
    theirs = _identity(bob, "news@bob.example")
    api = api_as(alice)
    assert [s["id"] for s in api.get("senders").json()["items"]] == [mine.pk]
    assert api.get(f"senders/{theirs.pk}").status_code == 404
    assert api.post("senders", {}).status_code == 405  # verification is by mail


def test_a_mailing_sends_only_as_a_verified_identity_of_its_owner(alice, bob, api_as):
    message = MessageFactory(owner=alice)
    verified = _identity(alice, "news@alice.example")
    unverified = _identity(alice, "other@alice.example", verified=False)
    theirs = _identity(bob, "news@bob.example")
    start = timezone.now() + timedelta(days=1)
    body = {
        "message_id": message.pk,
        "start_at": start.isoformat(),
        "end_at": (start + timedelta(days=1)).isoformat(),
        "to_all_clients": True,
    }
    api = api_as(alice)
    for identity in (unverified, theirs):
        response = api.post("mailings", {**body, "sender_id": identity.pk})
        assert response.status_code == 422
        assert "sender_id" in [e["field"] for e in response.json()["errors"]]
    created = api.post("mailings", {**body, "sender_id": verified.pk})
    assert created.status_code == 201, created.content
    assert created.json()["sender_id"] == verified.pk
