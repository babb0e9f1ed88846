"""Lists and subscriptions (with or without double opt-in, unsubscribe),
suppressions, the client filters by list and attribute, mailings to lists."""

from __future__ import annotations

import pytest

from apps.audiences import services as audience_services
from apps.audiences.models import ClientList, Subscription, Suppression
from apps.mailings.models import Client, Mailing
from tests.factories import ClientFactory, MessageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices_list(alice):
    return audience_services.client_list_create(
        owner=alice, name="News", double_opt_in=False
    )


def test_lists_are_created_read_updated_and_deleted(alice, api_as):
    api = api_as(alice)
    created = api.post("lists", {"name": "Shop", "double_opt_in": True})
    assert created.status_code == 201, created.content
    list_id = created.json()["id"]
    assert ClientList.objects.get(pk=list_id).owner == alice
    assert api.patch(f"lists/{list_id}", {"name": "Shop news"}).json()["name"] == (
        "Shop news"
    )
    assert api.patch(f"lists/{list_id}", {"name": "a\nb"}).status_code == 422
    assert [r["id"] for r in api.get("lists").json()["items"]] == [list_id]
    assert api.delete(f"lists/{list_id}").status_code == 204


def test_subscribing_without_double_opt_in_joins_at_once(alice, api_as, alices_list):
    api = api_as(alice)
    response = api.post(
        f"lists/{alices_list.pk}/subscribe",
        {"email": "new@example.org", "full_name": "New", "double_opt_in": False},
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "subscribed"
    client = Client.objects.get(owner=alice, email="new@example.org")
    members = api.get("clients", list_id=alices_list.pk).json()["items"]
    assert [m["id"] for m in members] == [client.pk]
    subs = api.get(f"lists/{alices_list.pk}/subscriptions").json()["items"]
    assert [(s["email"], s["status"]) for s in subs] == [
        ("new@example.org", "subscribed")
    ]


@pytest.mark.smtp
def test_a_list_reads_its_subscribed_and_unconfirmed_counts(
    alice, api_as, alices_list, smtp_sink, django_capture_on_commit_callbacks
):
    api = api_as(alice)
    assert api.get(f"lists/{alices_list.pk}").json()["subscriber_count"] == 0
    # A client alice has shows on the list as unconfirmed until they confirm (an
    # unknown address is written only once confirmed).
    ClientFactory(owner=alice, email="b@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        for email, confirm in (("a@example.org", False), ("b@example.org", True)):
            api.post(
                f"lists/{alices_list.pk}/subscribe",
                {"email": email, "double_opt_in": confirm},
            )
    listed = api.get("lists").json()["items"][0]
    assert (listed["subscriber_count"], listed["unconfirmed_count"]) == (1, 1)
    api.post(f"lists/{alices_list.pk}/unsubscribe", {"email": "a@example.org"})
    one = api.get(f"lists/{alices_list.pk}").json()
    assert (one["subscriber_count"], one["unconfirmed_count"]) == (0, 1)
    # Read-only: a client cannot set them.
    patched = api.patch(f"lists/{alices_list.pk}", {"subscriber_count": 99})
    assert patched.status_code in (200, 422)
    assert ClientList.objects.get(pk=alices_list.pk).subscriber_count == 0


@pytest.mark.smtp
def test_subscribing_with_double_opt_in_waits_for_the_mailed_link(
    alice, api_as, alices_list, smtp_sink, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(alice).post(
            f"lists/{alices_list.pk}/subscribe",
            {"email": "wary@example.org", "double_opt_in": True},
        )
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "confirmation_sent"
    assert [m.envelope_to for m in smtp_sink.messages] == [["wary@example.org"]]
    # Nothing joins before the link is opened.
    assert not Subscription.objects.filter(client_list=alices_list).exists()


def test_a_recipient_who_unsubscribed_is_not_subscribed_back_quietly(
    alice, api_as, alices_list
):
    client = ClientFactory(owner=alice, email="gone@example.org")
    audience_services.recipient_unsubscribed(client=client)
    response = api_as(alice).post(
        f"lists/{alices_list.pk}/subscribe",
        {"email": "gone@example.org", "double_opt_in": False},
    )
    assert response.status_code == 409
    assert not Subscription.objects.filter(
        client=client, status=Subscription.Status.SUBSCRIBED
    ).exists()


def test_unsubscribing_from_a_list(alice, api_as, alices_list):
    client = ClientFactory(owner=alice, email="a@example.org")
    audience_services.list_members_add(client_list=alices_list, clients=[client])
    api = api_as(alice)
    response = api.post(
        f"lists/{alices_list.pk}/unsubscribe", {"email": "A@example.org"}
    )
    assert response.status_code == 200
    assert response.json()["status"] == "unsubscribed"
    assert api.get("clients", list_id=alices_list.pk).json()["items"] == []
    left = api.get("clients", list_id=alices_list.pk, subscription="unsubscribed")
    assert [c["id"] for c in left.json()["items"]] == [client.pk]


def test_bob_cannot_touch_alices_list(alice, bob, api_as, alices_list):
    api = api_as(bob)
    assert api.get(f"lists/{alices_list.pk}").status_code == 404
    assert api.get(f"lists/{alices_list.pk}/subscriptions").status_code == 404
    assert (
        api.post(f"lists/{alices_list.pk}/subscribe", {"email": "x@example.org"})
    ).status_code == 404
    assert api.get("lists").json()["items"] == []


def test_a_manager_reads_lists_but_changes_none(manager, api_as, alices_list):
    api = api_as(manager)
    assert api.get(f"lists/{alices_list.pk}").status_code == 200
    assert api.patch(f"lists/{alices_list.pk}", {"name": "x"}).status_code == 403


def test_suppressions_are_added_listed_and_removed(alice, bob, api_as):
    api = api_as(alice)
    created = api.post("suppressions", {"email": "no@example.org"})
    assert created.status_code == 201, created.content
    entry = Suppression.objects.get(pk=created.json()["id"])
    assert entry.owner == alice and entry.reason == "manual"
    assert api_as(bob).get("suppressions").json()["items"] == []
    assert api_as(bob).delete(f"suppressions/{entry.pk}").status_code == 404
    assert api.delete(f"suppressions/{entry.pk}").status_code == 204


def test_a_recipients_own_unsubscribe_cannot_be_removed(alice, api_as):
    client = ClientFactory(owner=alice, email="gone@example.org")
    audience_services.recipient_unsubscribed(client=client)
    entry = Suppression.objects.get(owner=alice)
    response = api_as(alice).delete(f"suppressions/{entry.pk}")
    assert response.status_code == 409
    assert Suppression.objects.filter(pk=entry.pk).exists()


def test_clients_filter_by_attribute_and_keep_attributes(alice, api_as):
    api = api_as(alice)
    tver = api.post(
        "clients", {"email": "t@example.org", "attributes": {"city": "Tver"}}
    )
    assert tver.status_code == 201, tver.content
    api.post("clients", {"email": "m@example.org", "attributes": {"city": "Moscow"}})
    found = api.get("clients", attribute="city=Tver").json()["items"]
    assert [c["email"] for c in found] == ["t@example.org"]
    patched = api.patch(
        f"clients/{tver.json()['id']}", {"attributes": {"plan": "pro"}}
    ).json()
    assert patched["attributes"] == {"city": "Tver", "plan": "pro"}
    bad = api.post("clients", {"email": "x@example.org", "attributes": {"a b": "1"}})
    assert bad.status_code == 422


def test_bulk_upsert_merges_attributes(alice, api_as):
    ClientFactory(owner=alice, email="a@example.org", attributes={"city": "Tver"})
    report = (
        api_as(alice)
        .post(
            "clients/bulk",
            {
                "clients": [
                    {"email": "a@example.org", "attributes": {"plan": "pro"}},
                    {"email": "b@example.org", "attributes": {"city": "Omsk"}},
                ]
            },
        )
        .json()
    )
    assert [r["status"] for r in report["rows"]] == ["updated", "created"]
    assert Client.objects.get(email="a@example.org").attributes == {
        "city": "Tver",
        "plan": "pro",
    }


def test_a_mailing_to_a_list_and_one_with_nobody(alice, api_as, alices_list):
    api = api_as(alice)
    message = MessageFactory(owner=alice)
    window = {"start_at": "2090-01-01T00:00:00Z", "end_at": "2090-02-01T00:00:00Z"}
    created = api.post(
        "mailings", {"message_id": message.pk, "list_ids": [alices_list.pk], **window}
    )
    assert created.status_code == 201, created.content
    assert created.json()["list_ids"] == [alices_list.pk]
    assert list(Mailing.objects.get().lists.all()) == [alices_list]
    nobody = api.post("mailings", {"message_id": message.pk, **window})
    assert nobody.status_code == 422
    assert "recipients" in [e["field"] for e in nobody.json()["errors"]]
