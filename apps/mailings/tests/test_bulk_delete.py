""" "Delete selected" in the admin: a page of counts, then a set-based delete of what
the person may delete, in a task past a few thousand rows.

Django's own action walked every related object and checked each one's permission:
100,000 clients took minutes and a gigabyte. Each test names what it guards.
"""

from __future__ import annotations

import time

import pytest
from cachalot.api import cachalot_disabled
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from apps.core import deletion, permissions
from apps.core.tasks import objects_delete
from apps.mailings import scheduling, services
from apps.mailings.models import (
    Attempt,
    Client,
    ClientUserObjectPermission,
    Delivery,
    Mailing,
    MailingUserObjectPermission,
    Message,
)
from bench.delete import clients_seed
from tests.factories import ClientFactory, MailingFactory, MessageFactory

pytestmark = pytest.mark.django_db

CLIENTS = reverse("admin:mailings_client_changelist")
MESSAGES = reverse("admin:mailings_message_changelist")
MAILINGS = reverse("admin:mailings_mailing_changelist")


def ask(http, url: str, pks=(), *, across: bool = False):
    """The changelist's first POST: the action with its selection (no answer yet).

    With `across` ("select all N"), the browser still sends the page's ticked
    boxes; any one of the person's rows stands for them here."""
    pks = list(pks)
    if across and not pks:
        pks = list(http.get(url).context["cl"].result_list.values_list("pk", flat=True))
    data = {"action": "delete_selected", "index": "0", "_selected_action": pks}
    if across:
        data["select_across"] = "1"
    return http.post(url, data)


def confirm(http, url: str, page) -> object:
    """The confirmation page's own form, posted back as a browser would."""
    hidden = page.context["hidden"]
    data: dict[str, list] = {}
    for name, value in hidden:
        data.setdefault(name, []).append(value)
    return http.post(url, data)


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def add_clients(owner, count: int, *, prefix: str = "c") -> list[int]:
    """`count` clients of `owner` with their permissions, made in bulk."""
    made = Client.objects.bulk_create(
        (Client(owner=owner, email=f"{prefix}{i}@example.org") for i in range(count)),
        batch_size=5_000,
    )
    ids = [client.pk for client in made]
    permissions.owner_permissions_grant_new(owner=owner, model=Client, ids=ids)
    return ids


def _run(mailing: Mailing, clients: list[Client]) -> Attempt:
    now = timezone.now()
    attempt = Attempt.objects.create(mailing=mailing, attempted_at=now)
    services.attempt_created(attempt=attempt)
    Delivery.objects.bulk_create(
        Delivery(attempt=attempt, client=c, email=c.email, outcome="sent")
        for c in clients
    )
    return attempt


def test_the_confirmation_page_counts_what_goes_instead_of_listing_it(alice, login):
    # Guards: the page listing every object (Django's), or deleting on the first POST.
    ids = add_clients(alice, 30)
    http = login(alice)

    page = ask(http, CLIENTS, across=True)

    assert page.status_code == 200
    content = page.content.decode()
    assert "Clients: 30" in content
    assert "c7@example.org" not in content
    assert "csrfmiddlewaretoken" in content
    assert ("post", "yes") in page.context["hidden"]
    assert Client.objects.filter(pk__in=ids).count() == 30


def test_deleting_clients_takes_their_permissions_and_memberships_and_keeps_the_ledger(
    alice, bob, login
):
    # Guards: orphaned guardian rows, a failed delete on the mailing link, and the
    # history of sent mail vanishing with the client (it keeps the address).
    clients = [ClientFactory(owner=alice) for _ in range(3)]
    mailing = MailingFactory(owner=alice, clients=clients)
    _run(mailing, clients)
    bobs = ClientFactory(owner=bob)
    http = login(alice)
    selected = [c.pk for c in clients[:2]]

    done = confirm(http, CLIENTS, ask(http, CLIENTS, selected))

    assert done.status_code == 302
    assert set(Client.objects.values_list("pk", flat=True)) == {clients[2].pk, bobs.pk}
    assert not ClientUserObjectPermission.objects.filter(
        content_object_id__in=selected
    ).exists()
    assert list(mailing.clients.all()) == [clients[2]]
    assert Delivery.objects.count() == 3
    assert Delivery.objects.filter(client__isnull=True).count() == 2
    assert "Deleted — clients: 2." in texts(done)


def test_select_across_deletes_only_the_filtered_clients_of_the_person(
    alice, bob, login
):
    # Guards: "select all" reaching past the person's own list or past the filter.
    add_clients(alice, 5, prefix="kept")
    gone = add_clients(alice, 4, prefix="gone")
    Client.objects.filter(pk__in=gone).update(is_unsubscribed=True)
    bobs = add_clients(bob, 3, prefix="bob")
    Client.objects.filter(pk__in=bobs).update(is_unsubscribed=True)
    http = login(alice)
    query = "?is_unsubscribed__exact=1"

    page = ask(http, CLIENTS + query, across=True)
    assert "Clients: 4" in page.content.decode()
    confirm(http, CLIENTS + query, page)

    assert not Client.objects.filter(pk__in=gone).exists()
    assert Client.objects.filter(owner=alice).count() == 5
    assert Client.objects.filter(pk__in=bobs).count() == 3


def test_someone_elses_clients_are_never_deleted_even_when_named(alice, bob, login):
    # Guards: the delete set not being limited by the permission module.
    alices = add_clients(alice, 3)
    http = login(bob)

    response = http.post(
        CLIENTS,
        {"action": "delete_selected", "_selected_action": alices, "post": "yes"},
    )

    assert response.status_code in (200, 302)
    assert Client.objects.filter(pk__in=alices).count() == 3


def test_a_manager_is_not_offered_the_delete_action_and_cannot_post_it(
    alice, manager, login
):
    ids = add_clients(alice, 3)
    http = login(manager)

    changelist = http.get(CLIENTS)
    posted = http.post(
        CLIENTS,
        {"action": "delete_selected", "select_across": "1", "post": "yes"},
    )

    action_form = changelist.context["action_form"]
    assert action_form is None or "delete_selected" not in dict(
        action_form.fields["action"].choices
    )
    assert posted.status_code in (200, 302, 403)
    assert Client.objects.filter(pk__in=ids).count() == 3


def test_a_message_in_use_is_not_deleted_and_the_page_says_what_uses_it(alice, login):
    # Guards: a RESTRICT relation turning into a server error or a silent delete.
    mailing = MailingFactory(owner=alice)
    used = mailing.message
    free = MessageFactory(owner=alice)
    http = login(alice)

    page = ask(http, MESSAGES, [used.pk, free.pk])

    assert page.status_code == 200
    assert f"{used} — used by {mailing}" in page.context["skipped"]
    assert not page.context["objects"]
    assert b'name="post"' not in page.content
    assert Message.objects.filter(pk__in=[used.pk, free.pk]).count() == 2

    forced = http.post(
        MESSAGES,
        {
            "action": "delete_selected",
            "_selected_action": [used.pk, free.pk],
            "post": "yes",
        },
    )
    assert Message.objects.filter(pk=used.pk).exists()
    assert not Message.objects.filter(pk=free.pk).exists()
    assert "1 of the selected were kept: they are in use." in texts(forced)


def test_deleting_mailings_takes_their_runs_deliveries_and_start_schedules(
    alice, login
):
    # Guards: run history or a one-off start schedule left behind (no post_delete
    # is sent by a set-based delete).
    clients = [ClientFactory(owner=alice) for _ in range(2)]
    mailing = MailingFactory(owner=alice, clients=clients)
    attempt = _run(mailing, clients)
    scheduling.schedule_mailing_start(mailing.pk, mailing.start_at)
    http = login(alice)

    page = ask(http, MAILINGS, [mailing.pk])
    assert {"Mailings: 1", "Attempts: 1", "Deliveries: 2"} <= set(
        page.context["objects"]
    )
    confirm(http, MAILINGS, page)

    assert not Mailing.objects.filter(pk=mailing.pk).exists()
    assert not Attempt.objects.filter(pk=attempt.pk).exists()
    assert not Delivery.objects.exists()
    assert not MailingUserObjectPermission.objects.exists()
    assert not Schedule.objects.filter(
        name=scheduling.schedule_name_for(mailing.pk)
    ).exists()
    assert Client.objects.filter(owner=alice).count() == 2


def test_a_mailings_delete_page_counts_its_history_without_listing_it(alice, login):
    clients = [ClientFactory(owner=alice) for _ in range(3)]
    mailing = MailingFactory(owner=alice, clients=clients)
    _run(mailing, clients)

    page = login(alice).get(reverse("admin:mailings_mailing_delete", args=[mailing.pk]))

    assert page.status_code == 200
    assert dict(page.context["model_count"])["Deliveries"] == 3
    assert not page.context["perms_lacking"]
    assert clients[0].email not in page.content.decode()


def test_the_task_deletes_nothing_the_person_may_no_longer_delete(alice, bob):
    # Guards: a queued delete trusting the ids it was given.
    ids = add_clients(alice, 3)

    objects_delete(bob.pk, "mailings.Client", deletion.id_ranges(ids))
    assert Client.objects.filter(pk__in=ids).count() == 3

    objects_delete(alice.pk, "mailings.Client", deletion.id_ranges(ids))
    assert not Client.objects.filter(pk__in=ids).exists()


def test_ids_travel_to_the_task_as_runs():
    ids = [7, 3, 4, 5, 10, 11, 1]

    runs = deletion.id_ranges(ids)

    assert runs == [(1, 1), (3, 5), (7, 7), (10, 11)]
    assert deletion.ids_from_ranges(runs) == sorted(ids)


def test_100000_clients_are_deleted_in_a_task_with_a_bounded_number_of_queries(
    alice,
    bob,
    login,
    django_assert_max_num_queries,
    django_capture_on_commit_callbacks,
):
    # Guards: per-object work (Django's action made several queries per client;
    # here about 7 per chunk of 2,000) and a request that deletes 100,000 rows
    # itself instead of queueing them.
    ids = clients_seed(alice, 100_000)
    bobs = add_clients(bob, 10, prefix="bob")
    http = login(alice)
    page = ask(http, CLIENTS, across=True)
    assert "Clients: 100,000" in page.context["objects"]

    started = time.monotonic()
    with (
        cachalot_disabled(),
        django_assert_max_num_queries(400),
        django_capture_on_commit_callbacks(execute=True) as queued,
    ):
        done = confirm(http, CLIENTS, page)
    elapsed = time.monotonic() - started

    assert done.status_code == 302
    assert queued
    assert any("Deleting in the background" in text for text in texts(done))
    assert not Client.objects.filter(owner=alice).exists()
    assert not ClientUserObjectPermission.objects.filter(
        content_object_id__in=ids[:1000]
    ).exists()
    assert ClientUserObjectPermission.objects.count() == 3 * len(bobs)
    assert elapsed < 60, f"{elapsed:.1f} s"
