"""A run resolves lists, segments, individual clients and "all my clients" into the
ledger: the union, one delivery per e-mail, without unsubscribed or suppressed
addresses, afresh on every run — checked through the real SMTP sink.

Mutations each test is here to catch (tried by hand once):
* the union reduced to `mailing.clients` → ``test_a_run_sends_to_the_union_...``;
* the owner filter of ``targets_q`` dropped → ``test_another_owners_list_...``;
* the owner's or the site-wide EXISTS of ``suppressed_q`` dropped →
  ``test_suppressed_addresses_...``;
* the not-subscribed membership exclusion dropped →
  ``test_a_client_who_left_a_targeted_list_...``;
* the OFFSET 0 fence of the ledger's INSERT … SELECT dropped →
  ``test_resolution_looks_each_address_up_in_the_suppressions_once``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.audiences import services
from apps.audiences.models import Subscription, Suppression
from apps.audiences.tests.factories import ClientListFactory, SegmentFactory
from apps.mailings import sending
from apps.mailings.models import Delivery, Mailing
from tests.factories import ClientFactory, MailingFactory, MessageFactory

pytestmark = [pytest.mark.django_db, pytest.mark.smtp]


def _mailing(owner, **targets) -> Mailing:
    now = timezone.now()
    clients = targets.pop("clients", [])
    lists = targets.pop("lists", [])
    segments = targets.pop("segments", [])
    mailing = MailingFactory.create(
        owner=owner,
        message=MessageFactory(owner=owner, subject="Hi", body="Hello {{ email }}."),
        start_at=now - timedelta(minutes=1),
        end_at=now + timedelta(days=30),
        clients=clients,
        **targets,
    )
    mailing.lists.set(lists)
    mailing.segments.set(segments)
    return mailing


def _received(sink) -> list[str]:
    return sorted(r for m in sink.messages for r in m.envelope_to)


def test_a_run_sends_to_the_union_of_lists_segments_and_clients_once_each(sink, alice):
    a, b, c, d, e = (
        ClientFactory(owner=alice, email=f"{n}@example.org") for n in "abcde"
    )
    c.attributes = {"city": "Tver"}
    c.save()
    d.attributes = {"city": "tver"}
    d.save()
    newsletter = ClientListFactory(owner=alice, members=[a, b])
    tver = SegmentFactory(
        owner=alice,
        rules=[{"condition": "attr_equals", "field": "city", "value": "Tver"}],
    )
    # b is in the list and picked by hand, c is in the segment and picked by hand.
    mailing = _mailing(alice, clients=[b, c], lists=[newsletter], segments=[tver])

    result = sending.run_mailing_now(mailing.pk)

    assert _received(sink) == [f"{n}@example.org" for n in "abcd"]
    assert (result.sent, result.skipped, result.total) == (4, 0, 4)
    assert e.email not in _received(sink)


def test_all_my_clients_reaches_every_client_of_the_owner_and_nobody_else(
    sink, alice, bob
):
    for n in range(3):
        ClientFactory(owner=alice, email=f"a{n}@example.org")
    ClientFactory(owner=bob, email="b0@example.org")

    result = sending.run_mailing_now(_mailing(alice, to_all_clients=True).pk)

    assert result.sent == 3
    assert _received(sink) == ["a0@example.org", "a1@example.org", "a2@example.org"]


def test_another_owners_list_segment_or_client_never_adds_a_recipient(sink, alice, bob):
    mine = ClientFactory(owner=alice, email="mine@example.org")
    theirs = ClientFactory(owner=bob, email="theirs@example.org")
    bobs_list = ClientListFactory(owner=bob, members=[theirs])
    bobs_segment = SegmentFactory(owner=bob)
    # Written past the form, as a crafted request or a bug might.
    mailing = _mailing(alice, clients=[mine])
    mailing.clients.add(theirs)
    mailing.lists.add(bobs_list)
    mailing.segments.add(bobs_segment)

    sending.run_mailing_now(mailing.pk)

    assert _received(sink) == ["mine@example.org"]


def test_suppressed_addresses_are_skipped_by_owner_and_site_wide_and_never_sent(
    sink, alice, bob
):
    clients = [ClientFactory(owner=alice, email=f"r{n}@example.org") for n in range(5)]
    services.suppression_add(email="R0@EXAMPLE.org", owner=alice)
    services.suppression_add(
        email="r1@example.org", owner=None, reason=Suppression.Reason.HARD_BOUNCE
    )
    services.suppression_add(email="r2@example.org", owner=bob)  # not alice's
    clients[3].is_unsubscribed = True
    clients[3].save()

    result = sending.run_mailing_now(_mailing(alice, to_all_clients=True).pk)

    assert _received(sink) == ["r2@example.org", "r4@example.org"]
    assert (result.sent, result.skipped) == (2, 3)
    reasons = dict(
        Delivery.objects.filter(outcome="skipped").values_list(
            "email", "server_response"
        )
    )
    assert reasons == {
        "r0@example.org": "Suppressed address.",
        "r1@example.org": "Suppressed address.",
        "r3@example.org": "Unsubscribed.",
    }


def test_a_client_who_left_a_targeted_list_gets_nothing_even_if_picked_otherwise(
    sink, alice
):
    stays, left, unconfirmed = (
        ClientFactory(owner=alice, email=f"{n}@example.org")
        for n in ("stays", "left", "unconfirmed")
    )
    newsletter = ClientListFactory(owner=alice, members=[stays, left, unconfirmed])
    Subscription.objects.filter(client=left).update(status="unsubscribed")
    Subscription.objects.filter(client=unconfirmed).update(status="unconfirmed")

    sending.run_mailing_now(_mailing(alice, lists=[newsletter], to_all_clients=True).pk)

    assert _received(sink) == ["stays@example.org"]


def test_a_recurring_mailing_resolves_afresh_and_a_new_subscriber_gets_the_next_run(
    sink, alice
):
    first = ClientFactory(owner=alice, email="first@example.org")
    newsletter = ClientListFactory(owner=alice, members=[first])
    mailing = _mailing(alice, lists=[newsletter], periodicity=Mailing.Periodicity.DAILY)
    assert sending.run_due_mailing(mailing.pk).sent == 1

    later = ClientFactory(owner=alice, email="later@example.org")
    services.list_members_add(client_list=newsletter, clients=[later])
    services.suppression_add(email="first@example.org", owner=alice)
    sink.clear()
    Mailing.objects.filter(pk=mailing.pk).update(
        next_run_at=timezone.now() - timedelta(seconds=1)
    )

    result = sending.run_due_mailing(mailing.pk)

    assert _received(sink) == ["later@example.org"]
    assert (result.sent, result.skipped) == (1, 1)


def test_the_unsubscribe_link_suppresses_and_the_next_run_skips_them(sink, alice):
    from django.test import Client as HttpClient

    one, two = (ClientFactory(owner=alice, email=f"{n}@example.org") for n in "12")
    newsletter = ClientListFactory(owner=alice, members=[one, two])
    mailing = _mailing(alice, lists=[newsletter])
    sending.run_mailing_now(mailing.pk)

    HttpClient().post(f"/unsubscribe/{one.unsubscribe_token}/")

    entry = Suppression.objects.get(email="1@example.org")
    assert (entry.owner, entry.reason) == (alice, "unsubscribed")
    sink.clear()
    result = sending.run_mailing_now(mailing.pk)
    assert _received(sink) == ["2@example.org"]
    # They left the list too, so they are not even a recipient of it any more.
    assert Subscription.objects.get(client=one).status == "unsubscribed"
    assert (result.sent, result.total) == (1, 1)


def test_the_ledger_is_filled_by_one_insert_whatever_the_number_of_recipients(
    sink, alice
):
    clients = [ClientFactory(owner=alice, email=f"m{n}@example.org") for n in range(30)]
    newsletter = ClientListFactory(owner=alice, members=clients[:20])
    segment = SegmentFactory(
        owner=alice,
        rules=[{"condition": "email_domain", "field": "", "value": "example.org"}],
    )
    mailing = _mailing(alice, lists=[newsletter], segments=[segment])
    from apps.mailings.sending import runs

    with CaptureQueriesContext(connection) as queries:
        attempt = runs.start_manual_run(mailing.pk, worker="w")
    inserts = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith('INSERT INTO "mailings_delivery"')
    ]
    assert len(inserts) == 1
    assert attempt.total_count == 30
    assert Delivery.objects.filter(attempt=attempt).count() == 30


def test_resolution_looks_each_address_up_in_the_suppressions_once(alice):
    """The statement names a row's skip reason three times (outcome, reason, time);
    merged into one SELECT, SQLite copied the suppression look-up into each place
    and resolution took twice a bare INSERT … SELECT. The plan must search the
    suppressions once, through one index."""
    newsletter = ClientListFactory(
        owner=alice, members=[ClientFactory(owner=alice) for _ in range(3)]
    )
    segment = SegmentFactory(owner=alice)
    mailing = _mailing(alice, lists=[newsletter], segments=[segment])
    from apps.mailings.sending import runs

    with CaptureQueriesContext(connection) as queries:
        runs.start_manual_run(mailing.pk, worker="w")
    (insert,) = (
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith('INSERT INTO "mailings_delivery"')
    )
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + insert)
            plan = [row[-1] for row in cursor.fetchall()]
        else:
            cursor.execute("EXPLAIN " + insert)
            plan = [row[0] for row in cursor.fetchall()]
    suppression_steps = [
        step
        for step in plan
        if "suppression" in step and any(w in step for w in ("SEARCH", "SCAN", "Scan"))
    ]
    assert len(suppression_steps) == 1, plan


def test_a_client_subscribed_to_one_targeted_list_gets_it_though_they_left_another(
    sink, alice
):
    reader = ClientFactory(owner=alice, email="reader@example.org")
    news = ClientListFactory(owner=alice, members=[reader])
    offers = ClientListFactory(owner=alice, members=[reader])
    Subscription.objects.filter(client=reader, client_list=offers).update(
        status="unsubscribed"
    )

    sending.run_mailing_now(_mailing(alice, lists=[news, offers]).pk)

    assert _received(sink) == ["reader@example.org"]
