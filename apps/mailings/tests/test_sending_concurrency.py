"""Crashes, resumes and several workers on one run: nobody served twice.

The tests drive the claim the engine uses (``claims.claim_next``), its outcome
writes and its lease. Those that need several connections at once use
``shared_db``: PostgreSQL's test database, or on SQLite a file that two threads or
processes open with their own connections — so ``make test`` without services runs
them too.

Each mutation below was tried by hand and turned the named test red:

* claim condition: ``claim_next`` claims any row of the attempt, claimed or not
  (the ``free`` condition of ``claims._claim_sql`` always true) →
  ``test_a_recipient_another_worker_holds_is_not_claimed_again``,
  ``test_threads_claiming_one_attempt_at_once_never_share_a_recipient``, the two
  resume tests here, and ``test_sending_pipeline.py::
  test_a_run_and_its_helper_split_the_work_and_serve_nobody_twice`` (two workers
  on one run, each with its own connection: recipients go out twice).
  (Making only the UPDATE's re-check always true keeps them green: the candidates
  and the UPDATE are one statement, atomic on SQLite, and the candidates are
  row-locked with SKIP LOCKED on PostgreSQL, so that re-check is a second guard.)
* claim holder on outcome writes: ``write_outcomes`` (its PostgreSQL or its
  SQLite statement, on that database) or ``defer`` without ``claimed_by = <worker>``
  →
  ``test_a_worker_whose_claim_ran_out_cannot_overwrite_the_new_holders_row``.
* lease check: ``take_lease`` without ``_lease_filter`` →
  ``test_a_run_whose_lease_is_held_is_not_served_by_another_worker``; and
  ``renew_lease`` without ``lease_owner = <worker>`` →
  ``test_a_worker_that_lost_its_lease_stops_within_its_in_flight_window``.
* unsubscribed filter: the pipeline hands unsubscribed recipients to the senders →
  ``test_sending.py::test_unsubscribed_clients_are_skipped_and_counted`` and
  ``test_sending_pipeline.py::
  test_unsubscribed_and_deleted_clients_are_recorded_without_a_connection``.
* ``end_at`` bound of the due check (``runs.due``) →
  ``test_scheduling.py::test_a_one_off_mailing_missed_in_its_window_never_goes_out_after``.
* retry of a write refused as locked (``locking.retry_when_locked`` made a no-op)
  → ``test_a_run_start_refused_as_locked_on_sqlite_is_retried_not_failed`` and
  ``test_outcomes_refused_as_locked_on_sqlite_are_retried_not_lost``.
"""

import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection, connections
from django.utils import timezone

from apps.mailings import sending, tasks
from apps.mailings.models import Attempt, Delivery, Mailing
from apps.mailings.sending import claims, outcomes, pipeline
from apps.mailings.sending.outcomes import DEFER, OutcomeRecord
from tests.factories import make_user

pytestmark = pytest.mark.smtp

on_sqlite = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite's own locking"
)


def received(sink) -> Counter:
    return Counter(r for m in sink.messages for r in m.envelope_to)


def expire_lease_and_claims(attempt: Attempt) -> None:
    """What a dead worker leaves once its lease and claims ran out."""
    gone = timezone.now() - timedelta(seconds=1)
    Attempt.objects.filter(pk=attempt.pk).update(lease_expires_at=gone)
    Delivery.objects.filter(outcome="claimed").update(claimed_until=gone)


def make_due(mailing: Mailing) -> None:
    """Due now, set behind the save service's back: with several connections the
    tests run outside a test transaction, where saving a due mailing would run it
    (the task queue is synchronous) before the test starts its workers."""
    past = timezone.now() - timedelta(seconds=1)
    Mailing.objects.filter(pk=mailing.pk).update(start_at=past, next_run_at=past)


# --- one connection, in turn ------------------------------------------------------


@pytest.mark.django_db
def test_a_recipient_another_worker_holds_is_not_claimed_again(make_mailing):
    mailing = make_mailing(7)
    attempt = sending.start_manual_run(mailing.pk, worker="one")

    first = claims.claim_next(attempt.pk, "one", 3, after=0)
    second = claims.claim_next(attempt.pk, "two", 3, after=0)
    third = claims.claim_next(attempt.pk, "three", 3, after=0)

    ids = [d.pk for d in first + second + third]
    assert len(ids) == len(set(ids)) == 7
    assert len(third) == 1
    assert claims.claim_next(attempt.pk, "four", 3, after=0) == []


@pytest.mark.django_db
def test_a_claim_that_ran_out_with_its_worker_is_claimed_by_the_next(make_mailing):
    mailing = make_mailing(2)
    attempt = sending.start_manual_run(mailing.pk, worker="dead")
    claims.claim_next(attempt.pk, "dead", 2, after=0)
    expire_lease_and_claims(attempt)

    taken = claims.claim_next(attempt.pk, "next", 2, after=0)

    assert len(taken) == 2
    assert set(Delivery.objects.values_list("claimed_by", flat=True)) == {"next"}


@pytest.mark.django_db
def test_a_worker_whose_claim_ran_out_cannot_overwrite_the_new_holders_row(
    make_mailing,
):
    mailing = make_mailing(2)
    attempt = sending.start_manual_run(mailing.pk, worker="old")
    sent_row, deferred_row = claims.claim_next(attempt.pk, "old", 2, after=0)
    expire_lease_and_claims(attempt)  # "old" stalled; "new" takes its recipients
    assert len(claims.claim_next(attempt.pk, "new", 2, after=0)) == 2
    now = timezone.now()

    # "old" wakes up and records what it believes happened.
    outcomes.write_outcomes(
        "old",
        [
            OutcomeRecord(sent_row.pk, "sent", "250 old", "<old@x>", now, 1),
            OutcomeRecord(deferred_row.pk, DEFER, "451 old"),
        ],
    )

    rows = Delivery.objects.order_by("pk").values_list(
        "outcome", "claimed_by", "tries", "server_response"
    )
    assert list(rows) == [("claimed", "new", 0, ""), ("claimed", "new", 0, "")]
    outcomes.write_outcomes(
        "new",
        [
            OutcomeRecord(sent_row.pk, "sent", "250 new", "<new@x>", now, 1),
            OutcomeRecord(deferred_row.pk, "failed", "550 new", "<new@y>", now, 1),
        ],
    )
    assert list(rows.values_list("outcome", "server_response", "tries")) == [
        ("sent", "250 new", 1),
        ("failed", "550 new", 1),
    ]


@pytest.mark.django_db
def test_a_run_whose_lease_is_held_is_not_served_by_another_worker(sink, make_mailing):
    mailing = make_mailing(3)
    attempt = sending.start_manual_run(mailing.pk, worker="holder")  # lease: 60 s

    result = sending.run_attempt(attempt.pk, worker="intruder")

    assert result.server_response == "Another worker is running this attempt."
    assert sink.messages == []
    assert set(Delivery.objects.values_list("outcome", flat=True)) == {"pending"}
    assert Attempt.objects.get().lease_owner == "holder"


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

    expire_lease_and_claims(attempt)
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


# --- several connections at once (PostgreSQL, or a shared SQLite file) --------------


def in_threads(count: int, target, *args) -> None:
    """Run target(index, *args) in `count` threads started together, each with its
    own database connection."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            target(index, *args)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    if errors:
        raise errors[0]


@pytest.mark.django_db(transaction=True)
def test_threads_claiming_one_attempt_at_once_never_share_a_recipient(
    shared_db, make_mailing
):
    mailing = make_mailing(60)
    attempt = sending.start_manual_run(mailing.pk, worker="setup")
    got: dict[int, list[int]] = {}

    def claim_all(index: int) -> None:
        worker, mine, after = f"w{index}", [], 0
        while batch := claims.claim_next(attempt.pk, worker, 5, after=after):
            after = batch[-1].pk
            mine += [d.pk for d in batch]
            served = [
                OutcomeRecord(d.pk, "sent", "250 OK", at=timezone.now(), tried=1)
                for d in batch
            ]
            outcomes.write_outcomes(worker, served)
        got[index] = mine

    in_threads(4, claim_all)

    everything = [pk for ids in got.values() for pk in ids]
    assert len(everything) == len(set(everything)) == 60


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_the_same_due_mailing_at_once_send_it_once(
    shared_db, sink, make_mailing
):
    mailing = make_mailing(20, start_at=timezone.now() + timedelta(hours=1))
    make_due(mailing)

    def work(index: int) -> None:
        sending.run_due_mailing(mailing.pk)
        sending.tick()

    in_threads(2, work)

    assert received(sink) == {f"r{i}@example.org": 1 for i in range(20)}
    assert Attempt.objects.count() == 1
    assert Attempt.objects.get().status == Attempt.Status.SUCCESS


@pytest.mark.django_db(transaction=True)
def test_three_due_mailings_started_at_once_by_two_workers_all_start_in_seconds(
    shared_db, sink, make_mailing
):
    """As in a cluster just started when three mailings were saved: two workers take
    the three run tasks; each run starts at once and no task fails (on SQLite a
    writer refused as locked waits and tries again instead)."""
    later = timezone.now() + timedelta(hours=1)
    mailings = [make_mailing(10, owner=make_user(), start_at=later) for _ in range(3)]
    for mailing in mailings:
        make_due(mailing)
    work: queue.SimpleQueue[int] = queue.SimpleQueue()
    for m in mailings:
        work.put(m.pk)
    failures: list[str] = []
    began = timezone.now()

    def worker(index: int) -> None:
        while True:
            try:
                mailing_id = work.get_nowait()
            except queue.Empty:
                return
            try:
                tasks.run_due_mailing(mailing_id)
            except Exception as exc:  # a failed task, as django-q2 would record it
                failures.append(repr(exc))

    in_threads(2, worker)

    assert failures == []
    starts = Attempt.objects.values_list("attempted_at", flat=True)
    assert len(starts) == 3
    assert all(start - began < timedelta(seconds=10) for start in starts)
    assert sum(received(sink).values()) == 30


@contextmanager
def write_lock_held_elsewhere(path: Path, seconds: float) -> Iterator[None]:
    """Another writer (an import batch, say) holds SQLite's write lock for longer
    than this test's connection waits for it."""
    options = connection.settings_dict["OPTIONS"]
    options["timeout"] = 0.05
    options["init_command"] = "PRAGMA journal_mode=WAL"
    connection.close()
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(seconds, other.execute, args=("COMMIT",))
    release.start()
    try:
        yield
    finally:
        release.join()
        other.close()


@on_sqlite
@pytest.mark.django_db(transaction=True)
def test_a_run_start_refused_as_locked_on_sqlite_is_retried_not_failed(
    shared_db, sink, make_mailing
):
    mailing = make_mailing(2, start_at=timezone.now() + timedelta(hours=1))
    make_due(mailing)

    with write_lock_held_elsewhere(shared_db, 1.0):
        summary = tasks.run_due_mailing(mailing.pk)

    assert summary.startswith("Attempt #")
    assert len(sink.messages) == 2


@on_sqlite
@pytest.mark.django_db(transaction=True)
def test_outcomes_refused_as_locked_on_sqlite_are_retried_not_lost(
    shared_db, make_mailing
):
    mailing = make_mailing(3)
    attempt = sending.start_manual_run(mailing.pk, worker="w")
    rows = claims.claim_next(attempt.pk, "w", 3, after=0)
    now = timezone.now()

    with write_lock_held_elsewhere(shared_db, 1.0):
        outcomes.write_outcomes(
            "w", [OutcomeRecord(r.pk, "sent", "250 OK", at=now, tried=1) for r in rows]
        )

    assert set(Delivery.objects.values_list("outcome", flat=True)) == {"sent"}


SEND_IN_SUBPROCESS = """
import django, sys
django.setup()
from apps.mailings import sending
sending.run_attempt(int(sys.argv[1]), worker="victim", rate=float(sys.argv[2]))
"""


def subprocess_env(shared_file: Path | None) -> dict[str, str]:
    """The environment of another process on this test's database and cache."""
    env = {
        **os.environ,
        "EMAIL_HOST": django_settings.EMAIL_HOST,
        "EMAIL_PORT": str(django_settings.EMAIL_PORT),
        "EMAIL_URL": "",
        "MAILSHOT_TESTING": "0",
        "DJANGO_DEBUG": "1",
        "DJANGO_SETTINGS_MODULE": "project.settings",
    }
    if shared_file is None:
        db = connection.settings_dict
        env["DATABASE_URL"] = (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}"
            f"/{db['NAME']}"
        )
        # Share this test's cache keys, never a developer's or production's.
        env["MAILSHOT_CACHE_PREFIX"] = f"mailshot-test-{os.getpid()}"
    else:
        env.pop("DATABASE_URL", None)
        env["MAILSHOT_VAR_DIR"] = str(shared_file.parent)
        env["MAILSHOT_CACHE_LOCATION"] = django_settings.CACHES["default"]["LOCATION"]
    return env


@pytest.mark.django_db(transaction=True)
def test_a_sigkilled_sending_process_is_resumed_without_duplicates(
    shared_db, sink, make_mailing
):
    mailing = make_mailing(12)
    attempt = sending.start_manual_run(mailing.pk, worker="setup")
    sending.release_lease(attempt.pk, "setup")
    victim = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", SEND_IN_SUBPROCESS, str(attempt.pk), "20"],
        env=subprocess_env(shared_db),
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
    expire_lease_and_claims(attempt)
    assert sending.tick().resumed == [attempt.pk]

    counts = received(sink)
    assert set(counts) == {f"r{i}@example.org" for i in range(12)}
    assert sum(counts.values()) - 12 <= 1  # at most the one in flight, twice
    attempt.refresh_from_db()
    assert attempt.is_finished and attempt.sent_count == 12
