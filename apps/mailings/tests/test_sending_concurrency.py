"""Crashes, resumes and several workers on one run: nobody served twice."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection, connections
from django.utils import timezone

from apps.mailings import sending
from apps.mailings.models import Attempt, Delivery, Mailing
from apps.mailings.sending import claims, pipeline

pytestmark = pytest.mark.smtp

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs a database other processes and threads share (PostgreSQL in CI)",
)


def received(sink) -> Counter:
    return Counter(r for m in sink.messages for r in m.envelope_to)


@pytest.mark.django_db
def test_two_workers_claiming_in_turn_get_disjoint_recipients(make_mailing):
    mailing = make_mailing(7)
    attempt = sending.start_manual_run(mailing.pk, worker="one")

    first = claims.claim_next(attempt.pk, "one", 3, after=0)
    second = claims.claim_next(attempt.pk, "two", 3, after=0)
    third = claims.claim_next(attempt.pk, "one", 3, after=first[-1].pk)

    ids = [d.pk for d in first + second]
    assert len(ids) == len(set(ids)) == 6
    # "one" moves past its first three and gets the last one only.
    assert len(third) == 1
    assert not {d.pk for d in first + second} & {d.pk for d in third}


@pytest.mark.django_db
def test_a_run_whose_worker_died_is_resumed_once_its_lease_expires(sink, make_mailing):
    mailing = make_mailing(5)
    attempt = sending.start_due_run(mailing.pk, worker="dead")
    # The dead worker claimed everybody and served two before it was killed.
    claimed = claims.claim_next(attempt.pk, "dead", 100, after=0)
    Delivery.objects.filter(pk__in=[d.pk for d in claimed[:2]]).update(
        outcome="sent", processed_at=timezone.now()
    )

    assert sending.tick().resumed == []  # its lease still runs
    assert sink.messages == []

    Attempt.objects.filter(pk=attempt.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    Delivery.objects.filter(outcome="claimed").update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )
    tick = sending.tick()

    assert tick.resumed == [attempt.pk]
    assert sorted(received(sink)) == [
        "r2@example.org",
        "r3@example.org",
        "r4@example.org",
    ]
    attempt.refresh_from_db()
    assert attempt.is_finished and attempt.status == Attempt.Status.SUCCESS
    assert attempt.sent_count == 5
    assert attempt.lease_owner == ""


@pytest.mark.django_db
def test_a_worker_that_lost_its_lease_stops_within_its_in_flight_window(
    sink, make_mailing, settings, monkeypatch
):
    settings.MAILSHOT_BATCH_SIZE = 2
    settings.MAILSHOT_SMTP_CONNECTIONS = 1
    monkeypatch.setattr(pipeline, "RENEW_SECONDS", 0)  # renew at every turn
    mailing = make_mailing(30)
    attempt = sending.start_manual_run(mailing.pk, worker="slow")

    def progress(outcome):
        # Another worker took over (our lease expired while we were stuck).
        Attempt.objects.filter(pk=attempt.pk).update(lease_owner="other")

    result = sending.run_attempt(attempt.pk, worker="slow", progress=progress)

    sent = len(sink.messages)
    # The first outcome, those written with it, and the in-flight window.
    assert 1 <= sent <= 1 + 2 + 2 * 2 + 1
    assert result.pending == 30 - sent and not result.finished
    assert len(set(received(sink))) == sent
    assert not Delivery.objects.filter(outcome="claimed").exists()


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_threads_claiming_one_attempt_at_once_never_share_a_recipient(make_mailing):
    mailing = make_mailing(60)
    attempt = sending.start_manual_run(mailing.pk, worker="setup")
    got: dict[str, list[int]] = {}
    barrier = threading.Barrier(4)

    def claim_all(name):
        try:
            barrier.wait()
            mine = []
            after = 0
            while batch := claims.claim_next(attempt.pk, name, 5, after=after):
                after = batch[-1].pk
                mine += [d.pk for d in batch]
                Delivery.objects.filter(pk__in=[d.pk for d in batch]).update(
                    outcome="sent"
                )
            got[name] = mine
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim_all, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    everything = [pk for ids in got.values() for pk in ids]
    assert len(everything) == len(set(everything)) == 60


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_the_same_due_mailing_at_once_send_it_once(
    sink, make_mailing
):
    # Made for later (saving a due mailing would queue its run on commit right
    # away), then made due behind the hooks' back.
    mailing = make_mailing(20, start_at=timezone.now() + timedelta(hours=1))
    past = timezone.now() - timedelta(minutes=1)
    Mailing.objects.filter(pk=mailing.pk).update(start_at=past, next_run_at=past)
    barrier = threading.Barrier(2)
    results = []

    def work():
        try:
            barrier.wait()
            results.append(sending.run_due_mailing(mailing.pk))
            sending.tick()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert received(sink) == {f"r{i}@example.org": 1 for i in range(20)}
    assert Attempt.objects.count() == 1
    assert Attempt.objects.get().status == Attempt.Status.SUCCESS


SEND_IN_SUBPROCESS = """
import django, sys
django.setup()
from apps.mailings import sending
from apps.mailings.sending import claims, pipeline
sending.run_attempt(int(sys.argv[1]), worker="victim", rate=float(sys.argv[2]))
"""


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_sigkilled_sending_process_is_resumed_without_duplicates(sink, make_mailing):
    mailing = make_mailing(12)
    attempt = sending.start_manual_run(mailing.pk, worker="setup")
    sending.release_lease(attempt.pk, "setup")
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}"
            f"/{db['NAME']}"
        ),
        "EMAIL_HOST": django_settings.EMAIL_HOST,
        "EMAIL_PORT": str(django_settings.EMAIL_PORT),
        "EMAIL_URL": "",
        "MAILSHOT_TESTING": "0",
        # Share this test's cache keys, never a developer's or production's.
        "MAILSHOT_CACHE_PREFIX": f"mailshot-test-{os.getpid()}",
        "DJANGO_DEBUG": "1",
        "DJANGO_SETTINGS_MODULE": "project.settings",
    }
    victim = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", SEND_IN_SUBPROCESS, str(attempt.pk), "20"],
        env=env,
        cwd=django_settings.BASE_DIR,
    )
    deadline = time.monotonic() + 30
    while len(sink.messages) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    served_before = len(sink.messages)
    assert 4 <= served_before < 12

    # Its lease would run out by itself; expire it now instead of waiting 60 s.
    Attempt.objects.filter(pk=attempt.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    Delivery.objects.filter(outcome="claimed").update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )
    assert sending.tick().resumed == [attempt.pk]

    counts = received(sink)
    assert set(counts) == {f"r{i}@example.org" for i in range(12)}
    assert sum(counts.values()) - 12 <= 1  # at most the one in flight, twice
    attempt.refresh_from_db()
    assert attempt.is_finished and attempt.sent_count == 12
