"""The pipelined engine: several connections, outcomes written in batches behind the
wire, helpers joining a run — nobody lost, nobody served twice."""

import threading
from collections import Counter

import pytest
from django.db import connections

from apps.mailings import sending, tasks
from apps.mailings.models import Attempt, Delivery

pytestmark = pytest.mark.smtp


def outcomes() -> Counter:
    return Counter(Delivery.objects.values_list("outcome", flat=True))


@pytest.mark.django_db
def test_several_connections_serve_every_recipient_once(
    raw_smtp, make_mailing, settings
):
    settings.MAILSHOT_BATCH_SIZE = 5
    settings.MAILSHOT_SMTP_CONNECTIONS = 3
    server = raw_smtp()
    mailing = make_mailing(60)

    result = sending.run_due_mailing(mailing.pk)

    assert result.status == Attempt.Status.SUCCESS and result.sent == 60
    assert server.received_by() == {f"r{i}@example.org": 1 for i in range(60)}
    assert 2 <= server.connections <= 3
    assert outcomes() == {"sent": 60}
    assert Delivery.objects.filter(tries=1).count() == 60
    assert len(set(Delivery.objects.values_list("message_id", flat=True))) == 60


@pytest.mark.django_db
def test_every_outcome_is_recorded_when_the_server_fails_mid_batch(
    raw_smtp, make_mailing, settings
):
    settings.MAILSHOT_BATCH_SIZE = 5
    settings.MAILSHOT_SMTP_CONNECTIONS = 2
    settings.MAILSHOT_SMTP_RETRIES = 1
    server = raw_smtp(
        data_reply=lambda n: "250 Queued" if n <= 7 else "421 4.3.2 Shutting down"
    )
    mailing = make_mailing(30)

    result = sending.run_due_mailing(mailing.pk)

    assert result.status == Attempt.Status.FAILURE and not result.finished
    accepted = set(server.received_by())
    assert len(accepted) == 7
    sent = set(Delivery.objects.filter(outcome="sent").values_list("email", flat=True))
    assert sent == accepted  # each message the server took is on record
    assert outcomes() == {"sent": 7, "pending": 23}  # none left claimed or lost
    assert result.pending == 23

    # The next run serves exactly the rest.
    server.data_reply = lambda n: "250 Queued"
    sending.tick()
    assert server.received_by() == {f"r{i}@example.org": 1 for i in range(30)}
    assert Attempt.objects.get().status == Attempt.Status.SUCCESS


@pytest.mark.django_db
def test_unsubscribed_and_deleted_clients_are_recorded_without_a_connection(
    raw_smtp, make_mailing
):
    server = raw_smtp()
    mailing = make_mailing(3)
    mailing.clients.update(is_unsubscribed=True)

    result = sending.run_due_mailing(mailing.pk)

    assert (result.skipped, result.sent) == (3, 0)
    assert server.connections == 0


@pytest.mark.django_db
def test_a_helper_alone_serves_the_run_and_closes_it(sink, make_mailing, settings):
    settings.MAILSHOT_BATCH_SIZE = 4
    mailing = make_mailing(10)
    attempt = sending.start_manual_run(mailing.pk, worker="lead")
    sending.release_lease(attempt.pk, "lead")

    result = sending.assist_attempt(attempt.pk, worker="helper")

    assert result.finished and result.status == Attempt.Status.SUCCESS
    assert len(sink.messages) == 10
    assert set(Delivery.objects.values_list("claimed_by", flat=True)) == {"helper"}
    assert sending.assist_attempt(attempt.pk) is None  # nothing left to help with


@pytest.mark.django_db(transaction=True)
def test_a_run_and_its_helper_split_the_work_and_serve_nobody_twice(
    shared_db, raw_smtp, make_mailing, settings
):
    settings.MAILSHOT_BATCH_SIZE = 5
    server = raw_smtp(delay=0.002)
    mailing = make_mailing(80)
    attempt = sending.start_manual_run(mailing.pk, worker="lead")
    barrier = threading.Barrier(2)

    def work(fn, name):
        try:
            barrier.wait()
            fn(attempt.pk, worker=name)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=work, args=(sending.run_attempt, "lead")),
        threading.Thread(target=work, args=(sending.assist_attempt, "helper")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert server.received_by() == {f"r{i}@example.org": 1 for i in range(80)}
    attempt.refresh_from_db()
    assert attempt.is_finished and attempt.status == Attempt.Status.SUCCESS
    assert attempt.sent_count == 80
    by = Counter(Delivery.objects.values_list("claimed_by", flat=True))
    assert set(by) == {"lead", "helper"}, by


def test_helpers_are_queued_only_by_a_real_cluster(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    settings.MAILSHOT_RUN_HELPERS = 3
    assert tasks._helper_count() == 0
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False}
    assert tasks._helper_count() == 3
