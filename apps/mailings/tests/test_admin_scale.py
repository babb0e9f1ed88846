"""Admin at scale: the pages a person opens make the same number of queries with
20 or 200 clients, mailings' recipients and attempts (timing is for `make bench`);
lists count at most 1,000 rows; a mailing with many recipients shows a count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cachalot.api import cachalot_disabled
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.core.admin import CappedPaginator
from apps.mailings import services
from apps.mailings.models import Attempt, Client, Delivery, Mailing
from tests.factories import ClientFactory, MailingFactory, MessageFactory

pytestmark = pytest.mark.django_db

PAGES = {
    "client list": "/admin/mailings/client/",
    "client search": "/admin/mailings/client/?q=r1",
    "mailing form": "/admin/mailings/mailing/add/",
    "mailing list": "/admin/mailings/mailing/",
    "attempt list": "/admin/mailings/attempt/",
    "dashboard": "/admin/",
    "clients autocomplete": "/admin/autocomplete/?app_label=mailings"
    "&model_name=mailing&field_name=clients&term=r1",
    "attempts report": "/admin/mailings/mailing/attempts-export/",
}


def grow(owner, *, clients: int, attempts: int) -> None:
    """Bring `owner` up to `clients` clients and `attempts` runs (with deliveries)."""
    have = Client.objects.filter(owner=owner).count()
    Client.objects.bulk_create(
        Client(owner=owner, email=f"r{i}@example.org", full_name=f"Reader {i}")
        for i in range(have, clients)
    )
    services.grant_owner_permissions(
        owner=owner, objects=Client.objects.filter(owner=owner)
    )
    mailing = Mailing.objects.filter(owner=owner).first() or MailingFactory.create(
        owner=owner, message=MessageFactory.create(owner=owner)
    )
    mailing.clients.set(Client.objects.filter(owner=owner))
    now = timezone.now()
    have = Attempt.objects.filter(mailing__owner=owner).count()
    made = Attempt.objects.bulk_create(
        Attempt(
            mailing=mailing,
            attempted_at=now - timedelta(hours=i),
            finished_at=now - timedelta(hours=i),
            status=Attempt.Status.SUCCESS,
            total_count=1,
            sent_count=1,
        )
        for i in range(have, attempts)
    )
    Delivery.objects.bulk_create(
        Delivery(
            attempt=a,
            email="r@example.org",
            outcome="sent",
            processed_at=a.attempted_at,
        )
        for a in made
    )
    services.grant_owner_permissions(
        owner=owner, objects=Attempt.objects.filter(mailing__owner=owner)
    )


# Managers add nothing: no mailing form, no clients autocomplete for one.
OWNER_ONLY = {"mailing form", "clients autocomplete"}


def queries_of(http, *, owner: bool) -> dict[str, int]:
    counts = {}
    for name, url in PAGES.items():
        if name in OWNER_ONLY and not owner:
            continue
        http.get(url)  # warm (the dashboard keeps closed days)
        with cachalot_disabled(), CaptureQueriesContext(connection) as queries:
            response = http.get(url)
            if response.streaming:
                b"".join(response.streaming_content)
        assert response.status_code == 200, (name, response.status_code)
        counts[name] = len(queries)
    return counts


@pytest.mark.parametrize("persona", ["alice", "manager"])
def test_pages_make_as_many_queries_with_200_clients_as_with_20(
    persona, alice, request, login
):
    http = login(request.getfixturevalue(persona))
    grow(alice, clients=20, attempts=20)
    owner = persona == "alice"
    few = queries_of(http, owner=owner)
    grow(alice, clients=200, attempts=200)
    assert queries_of(http, owner=owner) == few


def test_a_long_list_counts_up_to_the_cap_and_says_so(alice, login, monkeypatch):
    monkeypatch.setattr(CappedPaginator, "cap", 30)
    grow(alice, clients=45, attempts=0)
    response = login(alice).get(reverse("admin:mailings_client_changelist"))
    assert response.context["cl"].result_count == 31
    assert str(response.context["cl"].result_count) == "30+"
    assert "30+" in response.content.decode()


def test_a_short_list_shows_its_exact_count(alice, login):
    grow(alice, clients=12, attempts=0)
    response = login(alice).get(reverse("admin:mailings_client_changelist"))
    assert response.context["cl"].result_count == 12
    assert str(response.context["cl"].result_count) == "12"


def test_bob_never_sees_alices_clients_in_a_long_list(alice, bob, login):
    grow(alice, clients=60, attempts=3)
    http = login(bob)
    body = http.get("/admin/mailings/client/?q=r1").content.decode()
    assert "r1@example.org" not in body
    assert http.get(PAGES["attempt list"]).context["cl"].result_count == 0


# --- a mailing with many recipients --------------------------------------------


@pytest.fixture
def big_mailing(alice, monkeypatch):
    from apps.mailings.admin import MailingAdmin

    monkeypatch.setattr(MailingAdmin, "CLIENTS_LISTED", 3)
    clients = [
        ClientFactory(owner=alice, email=f"big{i}@example.org") for i in range(5)
    ]
    return MailingFactory(owner=alice, clients=clients)


def change_post(http, mailing, **extra):
    from apps.mailings.tests.test_admin_permissions import inline_fields

    page = reverse("admin:mailings_mailing_change", args=[mailing.pk])
    start, end = (
        timezone.localtime(mailing.start_at),
        timezone.localtime(mailing.end_at),
    )
    data = {
        **inline_fields(http, page),
        "message": mailing.message_id,
        "start_at_0": start.strftime("%Y-%m-%d"),
        "start_at_1": start.strftime("%H:%M:%S"),
        "end_at_0": end.strftime("%Y-%m-%d"),
        "end_at_1": end.strftime("%H:%M:%S"),
        "periodicity": mailing.periodicity,
        **extra,
    }
    return http.post(page, data)


def test_a_mailing_with_many_clients_shows_a_count_not_every_client(
    alice, big_mailing, login
):
    page = reverse("admin:mailings_mailing_change", args=[big_mailing.pk])
    body = login(alice).get(page).content.decode()
    assert "5 recipients" in body
    assert f"?mailing={big_mailing.pk}" in body
    assert "big0@example.org" not in body
    assert 'name="add_clients"' in body and 'name="remove_clients"' in body


def test_the_owner_adds_and_removes_clients_of_a_big_mailing(alice, big_mailing, login):
    newcomer = ClientFactory(owner=alice, email="newcomer@example.org")
    leaving = big_mailing.clients.get(email="big0@example.org")
    response = change_post(
        login(alice),
        big_mailing,
        add_clients=[newcomer.pk],
        remove_clients=[leaving.pk],
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    emails = set(big_mailing.clients.values_list("email", flat=True))
    assert "newcomer@example.org" in emails and "big0@example.org" not in emails
    assert len(emails) == 5


def test_someone_elses_client_cannot_be_added_to_a_big_mailing(
    alice, bob, big_mailing, login
):
    bobs = ClientFactory(owner=bob, email="bobs@example.org")
    response = change_post(login(alice), big_mailing, add_clients=[bobs.pk])
    assert response.status_code == 200
    assert "add_clients" in response.context["adminform"].form.errors
    assert not big_mailing.clients.filter(pk=bobs.pk).exists()


def test_the_client_list_filtered_by_a_mailing(alice, bob, big_mailing, login):
    ClientFactory(owner=alice, email="outside@example.org")
    url = reverse("admin:mailings_client_changelist") + f"?mailing={big_mailing.pk}"
    body = login(alice).get(url).content.decode()
    assert "big0@example.org" in body and "outside@example.org" not in body
    assert "big0@example.org" not in login(bob).get(url).content.decode()
