"""What each resource does for the key's owner: clients (filters, CRUD, bulk upsert),
messages, mailings (the admin's validations, send now through the engine), attempts
and deliveries, the report."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.mailings import services
from apps.mailings.models import Attempt, Client, Delivery, Mailing, Message
from tests.factories import ClientFactory, MailingFactory, MessageFactory

pytestmark = pytest.mark.django_db


def _ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["items"]]


# --- clients ----------------------------------------------------------------------


def test_clients_are_created_read_updated_and_deleted(alice, api_as):
    api = api_as(alice)
    created = api.post(
        "clients", {"email": " Ann@Example.org ", "full_name": "Ann", "comment": "vip"}
    )
    assert created.status_code == 201
    client_id = created.json()["id"]
    assert created.json()["email"] == "Ann@Example.org"
    assert Client.objects.get(pk=client_id).owner == alice
    assert api.get(f"clients/{client_id}").json()["full_name"] == "Ann"

    changed = api.patch(f"clients/{client_id}", {"full_name": "Ann Lee"})
    assert changed.status_code == 200 and changed.json()["full_name"] == "Ann Lee"
    assert changed.json()["comment"] == "vip"

    assert api.delete(f"clients/{client_id}").status_code == 204
    assert not Client.objects.filter(pk=client_id).exists()
    assert api.get(f"clients/{client_id}").status_code == 404


def test_a_second_client_with_the_same_address_is_a_field_error(alice, api_as):
    api = api_as(alice)
    api.post("clients", {"email": "ann@example.org"})
    response = api.post("clients", {"email": "ANN@example.org"})
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["email"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not an address"}, "email"),
        ({"email": "a@example.org", "full_name": "two\nlines"}, "full_name"),
        ({"email": "a@example.org", "comment": "nul\x00"}, "comment"),
        ({"full_name": "no e-mail"}, "email"),
        ({"email": "a@example.org", "full_name": "x" * 256}, "full_name"),
    ],
)
def test_an_invalid_client_is_a_422_with_the_field_named(alice, api_as, body, field):
    response = api_as(alice).post("clients", body)
    assert response.status_code == 422, response.content
    assert field in [e["field"] for e in response.json()["errors"]]
    assert not Client.objects.exists()


def test_the_client_list_filters_by_email_and_unsubscribed(alice, api_as):
    ann = ClientFactory(owner=alice, email="ann@example.org")
    bea = ClientFactory(owner=alice, email="bea@example.org", is_unsubscribed=True)
    api = api_as(alice)
    assert _ids(api.get("clients", email="ANN@example.org")) == [ann.pk]
    assert _ids(api.get("clients", is_unsubscribed="true")) == [bea.pk]
    assert _ids(api.get("clients", is_unsubscribed="false")) == [ann.pk]


def test_bulk_upsert_reports_every_row(alice, bob, api_as):
    kept = ClientFactory(owner=alice, email="kept@example.org", full_name="Kept")
    changed = ClientFactory(owner=alice, email="old@example.org", full_name="Old")
    ClientFactory(owner=bob, email="new@example.org")  # bob's: not alice's
    response = api_as(alice).post(
        "clients/bulk",
        {
            "clients": [
                {"email": "new@example.org", "full_name": "New"},
                {"email": "KEPT@example.org"},
                {"email": "old@example.org", "full_name": "Renamed"},
                {"email": "New@example.org", "full_name": "Again"},
                {"email": "broken"},
            ]
        },
    )
    assert response.status_code == 200, response.content
    report = response.json()
    assert [r["status"] for r in report["rows"]] == [
        "created",
        "unchanged",
        "updated",
        "duplicate",
        "invalid",
    ]
    assert (report["created"], report["updated"], report["unchanged"]) == (1, 1, 1)
    assert (report["duplicates"], report["invalid"]) == (1, 1)
    assert report["rows"][4]["errors"][0]["field"] == "email"
    new = Client.objects.get(owner=alice, email="new@example.org")
    assert report["rows"][0]["id"] == new.pk and new.full_name == "New"
    assert report["rows"][1]["id"] == kept.pk
    changed.refresh_from_db()
    assert changed.full_name == "Renamed"
    # The new client is alice's to read and change like any other.
    assert api_as(alice).get(f"clients/{new.pk}").status_code == 200
    assert api_as(alice).patch(f"clients/{new.pk}", {"comment": "c"}).status_code == 200


def test_bulk_upsert_takes_at_most_ten_thousand_rows(alice, api_as):
    rows = [{"email": f"p{i}@example.org"} for i in range(10_001)]
    response = api_as(alice).post("clients/bulk", {"clients": rows})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "clients"
    assert not Client.objects.exists()


def test_bulk_upsert_of_ten_thousand_rows_takes_few_queries(
    alice, api_as, django_assert_max_num_queries
):
    rows = [
        {"email": f"p{i}@example.org", "full_name": f"P {i}"} for i in range(10_000)
    ]
    api = api_as(alice)
    # SQLite's INSERTs take ~100 rows each (its limit on parameters).
    with django_assert_max_num_queries(150):
        response = api.post("clients/bulk", {"clients": rows})
    assert response.json()["created"] == 10_000
    assert Client.objects.filter(owner=alice).count() == 10_000


# --- messages ---------------------------------------------------------------------


def test_messages_are_created_read_updated_and_deleted(alice, api_as):
    api = api_as(alice)
    created = api.post("messages", {"subject": "News", "body": "Hello {{ full_name }}"})
    assert created.status_code == 201
    message_id = created.json()["id"]
    assert Message.objects.get(pk=message_id).owner == alice
    assert (
        api.patch(f"messages/{message_id}", {"subject": "More"}).json()["subject"]
        == "More"
    )
    assert api.patch(f"messages/{message_id}", {"subject": "a\nb"}).status_code == 422
    assert api.delete(f"messages/{message_id}").status_code == 204


def test_a_message_used_by_a_mailing_cannot_be_deleted(alice, api_as):
    mailing = MailingFactory(owner=alice)
    response = api_as(alice).delete(f"messages/{mailing.message_id}")
    assert response.status_code == 409
    assert Message.objects.filter(pk=mailing.message_id).exists()


# --- mailings ---------------------------------------------------------------------


def _window(days: int = 1) -> dict[str, str]:
    start = timezone.now() + timedelta(days=days)
    return {
        "start_at": start.isoformat(),
        "end_at": (start + timedelta(days=7)).isoformat(),
    }


def test_a_mailing_is_created_with_its_clients_and_planned(alice, api_as):
    message = MessageFactory(owner=alice)
    clients = [ClientFactory(owner=alice) for _ in range(3)]
    response = api_as(alice).post(
        "mailings",
        {
            "message_id": message.pk,
            "client_ids": [c.pk for c in clients],
            "periodicity": "weekly",
            **_window(),
        },
    )
    assert response.status_code == 201, response.content
    mailing = Mailing.objects.get(pk=response.json()["id"])
    assert mailing.owner == alice and mailing.periodicity == "weekly"
    assert set(mailing.clients.values_list("pk", flat=True)) == {c.pk for c in clients}
    assert mailing.next_run_at == mailing.start_at  # planned by the service


def test_a_mailing_gets_the_admin_forms_validations(alice, bob, api_as):
    api = api_as(alice)
    mine = MessageFactory(owner=alice)
    theirs = MessageFactory(owner=bob)
    bobs_client = ClientFactory(owner=bob)
    start = timezone.now() + timedelta(days=1)

    cases = [
        ({"message_id": theirs.pk, **_window()}, "message_id"),
        (
            {
                "message_id": mine.pk,
                "start_at": start.isoformat(),
                "end_at": (start - timedelta(hours=1)).isoformat(),
            },
            "end_at",
        ),
        (
            {
                "message_id": mine.pk,
                "start_at": "1999-01-01T00:00:00Z",
                "end_at": "2030-01-01T00:00:00Z",
            },
            "start_at",
        ),
        (
            {"message_id": mine.pk, "client_ids": [bobs_client.pk], **_window()},
            "client_ids",
        ),
        ({"message_id": mine.pk, "periodicity": "hourly", **_window()}, "periodicity"),
    ]
    for body, field in cases:
        response = api.post("mailings", body)
        assert response.status_code == 422, (body, response.content)
        assert field in [e["field"] for e in response.json()["errors"]], response.json()
    assert not Mailing.objects.exists()


def test_a_mailing_is_updated_and_its_clients_added_and_removed(alice, api_as):
    a, b, c = (ClientFactory(owner=alice) for _ in range(3))
    mailing = MailingFactory(owner=alice, clients=[a, b])
    api = api_as(alice)

    response = api.patch(
        f"mailings/{mailing.pk}",
        {"periodicity": "daily", "add_client_ids": [c.pk], "remove_client_ids": [a.pk]},
    )

    assert response.status_code == 200, response.content
    mailing.refresh_from_db()
    assert mailing.periodicity == "daily"
    assert set(mailing.clients.values_list("pk", flat=True)) == {b.pk, c.pk}
    end_before = {"end_at": (mailing.start_at - timedelta(days=1)).isoformat()}
    assert api.patch(f"mailings/{mailing.pk}", end_before).status_code == 422


@pytest.mark.smtp
def test_send_now_queues_a_run_that_the_engine_sends_over_smtp(
    alice, api_as, smtp_sink, settings, django_capture_on_commit_callbacks
):
    settings.MAILSHOT_SEND_RATE = 0
    settings.SITE_URL = "https://mailshot.example"
    clients = [ClientFactory(owner=alice, email=f"r{i}@example.org") for i in range(2)]
    mailing = MailingFactory(owner=alice, clients=clients)
    api = api_as(alice)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post(f"mailings/{mailing.pk}/send")
    assert response.status_code == 202
    assert not Attempt.objects.exists()  # never inside the request
    for callback in callbacks:
        callback()

    assert sorted(m.envelope_to[0] for m in smtp_sink.messages) == [
        "r0@example.org",
        "r1@example.org",
    ]
    report = api.get(f"mailings/{mailing.pk}/report").json()
    assert (report["attempts"], report["sent"], report["failed"]) == (1, 2, 0)
    attempt = api.get("attempts", mailing=mailing.pk).json()["items"][0]
    assert attempt["sent_count"] == 2
    sent = api.get("deliveries", mailing=mailing.pk, outcome="sent").json()["items"]
    assert sorted(d["email"] for d in sent) == ["r0@example.org", "r1@example.org"]
    assert (
        api.get("deliveries", mailing=mailing.pk, outcome="failed").json()["items"]
        == []
    )


def test_a_disabled_mailing_is_not_sent(
    alice, api_as, django_capture_on_commit_callbacks
):
    mailing = MailingFactory(owner=alice)
    Mailing.objects.filter(pk=mailing.pk).update(is_enabled=False)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api_as(alice).post(f"mailings/{mailing.pk}/send")
    assert response.status_code == 409
    assert callbacks == []


def test_attempts_and_deliveries_filter_by_status_and_outcome(alice, api_as):
    mailing = MailingFactory(owner=alice)
    run = Attempt.objects.create(
        mailing=mailing, attempted_at=timezone.now(), status="partial"
    )
    services.attempt_created(attempt=run)
    sent = Delivery.objects.create(attempt=run, email="a@example.org", outcome="sent")
    failed = Delivery.objects.create(
        attempt=run, email="b@example.org", outcome="failed", server_response="550"
    )
    api = api_as(alice)
    assert _ids(api.get("attempts", status="partial")) == [run.pk]
    assert _ids(api.get("attempts", status="success")) == []
    assert _ids(api.get("deliveries", outcome="sent")) == [sent.pk]
    assert _ids(api.get("deliveries", outcome="failed", attempt=run.pk)) == [failed.pk]
    assert api.get(f"deliveries/{failed.pk}").json()["server_response"] == "550"
    assert api.get(f"attempts/{run.pk}").json()["status"] == "partial"


# --- pause, resume, duplicate -------------------------------------------------------


def test_a_paused_mailing_is_not_sent_until_resumed(
    alice, api_as, django_capture_on_commit_callbacks
):
    mailing = MailingFactory(owner=alice)
    api = api_as(alice)
    paused = api.post(f"mailings/{mailing.pk}/pause")
    assert paused.status_code == 200 and paused.json()["is_paused"] is True
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        refused = api.post(f"mailings/{mailing.pk}/send")
    assert refused.status_code == 409 and callbacks == []
    resumed = api.post(f"mailings/{mailing.pk}/resume")
    assert resumed.json()["is_paused"] is False
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert api.post(f"mailings/{mailing.pk}/send").status_code == 202
    assert callbacks


def test_a_duplicated_mailing_is_a_paused_copy_with_the_same_clients(alice, api_as):
    clients = [ClientFactory(owner=alice) for _ in range(2)]
    mailing = MailingFactory(owner=alice, clients=clients)
    response = api_as(alice).post(f"mailings/{mailing.pk}/duplicate")
    assert response.status_code == 201
    copy = Mailing.objects.get(pk=response.json()["id"])
    assert copy.pk != mailing.pk and copy.is_paused and copy.owner == alice
    assert set(copy.clients.all()) == set(clients)


def test_a_duplicated_message_is_named_a_copy(alice, api_as):
    message = MessageFactory(owner=alice, subject="News")
    response = api_as(alice).post(f"messages/{message.pk}/duplicate")
    assert response.status_code == 201
    assert response.json()["subject"] == "News (copy)"


def test_nobody_else_pauses_or_duplicates_alices_mailing(bob, manager, alice, api_as):
    mailing = MailingFactory(owner=alice)
    for action in ("pause", "resume", "duplicate"):
        assert api_as(bob).post(f"mailings/{mailing.pk}/{action}").status_code == 404
        assert (
            api_as(manager).post(f"mailings/{mailing.pk}/{action}").status_code == 403
        )
    assert Mailing.objects.count() == 1
