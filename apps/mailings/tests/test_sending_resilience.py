"""The engine against mail servers that misbehave (a raw-socket server), each run
ending within a bound with nobody lost or served twice."""

import threading
import time

import pytest

from apps.core.smtpsink import free_port
from apps.mailings import sending
from apps.mailings.models import Attempt, Delivery
from apps.mailings.sending import claims, pipeline

pytestmark = [pytest.mark.django_db, pytest.mark.smtp]


def outcomes():
    return dict(Delivery.objects.values_list("email", "outcome"))


def timed_run(mailing):
    started = time.monotonic()
    result = sending.run_due_mailing(mailing.pk)
    return result, time.monotonic() - started


def test_451_for_the_first_two_messages_is_retried_and_all_are_delivered(
    raw_smtp, make_mailing
):
    server = raw_smtp(
        data_reply=lambda n: "451 4.7.1 Try again later" if n <= 2 else "250 Queued"
    )
    mailing = make_mailing(4)

    result, took = timed_run(mailing)

    assert result.status == Attempt.Status.SUCCESS
    assert result.sent == 4 and result.pending == 0
    assert server.received_by() == {f"r{i}@example.org": 1 for i in range(4)}
    assert took < 3


def test_550_refusals_fail_only_those_recipients_and_make_the_run_partial(
    raw_smtp, make_mailing
):
    server = raw_smtp(
        rcpt_reply=lambda rcpt: (
            "550 5.1.1 No such user here" if rcpt.startswith("r1") else "250 OK"
        )
    )
    mailing = make_mailing(3)

    result, took = timed_run(mailing)

    assert result.status == Attempt.Status.PARTIAL
    assert (result.sent, result.failed) == (2, 1)
    refused = Delivery.objects.get(email="r1@example.org")
    assert refused.outcome == "failed"
    assert refused.server_response == "550 5.1.1 No such user here"
    assert "1 of 3 refused" in Attempt.objects.get().server_response
    assert sorted(server.received_by()) == ["r0@example.org", "r2@example.org"]
    assert took < 3


def test_every_recipient_refused_makes_the_run_a_failure(raw_smtp, make_mailing):
    raw_smtp(data_reply=lambda n: "554 5.7.1 Rejected as spam")
    mailing = make_mailing(2)

    result, _ = timed_run(mailing)

    assert result.status == Attempt.Status.FAILURE
    assert result.failed == 2 and result.finished


def test_a_connection_dropped_after_every_second_message_loses_and_repeats_nobody(
    raw_smtp, make_mailing
):
    server = raw_smtp(drop_every=2)
    mailing = make_mailing(5)

    result, took = timed_run(mailing)

    assert result.status == Attempt.Status.SUCCESS
    assert server.received_by() == {f"r{i}@example.org": 1 for i in range(5)}
    assert server.connections == 3
    assert took < 3


def test_a_server_answering_garbage_fails_the_run_fast_and_keeps_everyone_pending(
    raw_smtp, make_mailing
):
    raw_smtp(greeting="HELLO I AM NOT SMTP")
    mailing = make_mailing(3)

    result, took = timed_run(mailing)

    attempt = Attempt.objects.get()
    assert attempt.status == Attempt.Status.FAILURE
    assert not attempt.is_finished
    assert set(outcomes().values()) == {"pending"}
    assert "unreachable" in attempt.server_response
    assert "unreadable" in attempt.server_response
    assert took < 3


def test_a_garbage_reply_mid_session_is_retried_on_a_new_connection(
    raw_smtp, make_mailing
):
    server = raw_smtp(data_reply=lambda n: "OK?? whatever" if n == 1 else "250 Fine")
    mailing = make_mailing(2)

    result, _ = timed_run(mailing)

    assert result.status == Attempt.Status.SUCCESS
    assert server.connections == 2


def test_a_server_that_never_greets_times_out_within_the_bound(
    raw_smtp, make_mailing, settings
):
    settings.MAILSHOT_SMTP_RETRIES = 1
    raw_smtp(greeting=None)
    mailing = make_mailing(3)

    result, took = timed_run(mailing)

    assert result.status == Attempt.Status.FAILURE
    assert result.pending == 3
    assert "did not answer in time" in result.server_response
    # 2 tries × EMAIL_TIMEOUT (0.5 s) + back-off, and the run stops at once.
    assert took < 2 * settings.EMAIL_TIMEOUT + 1


def test_a_server_slower_than_the_timeout_counts_as_unreachable(
    raw_smtp, make_mailing, settings
):
    settings.MAILSHOT_SMTP_RETRIES = 1
    raw_smtp(delay=settings.EMAIL_TIMEOUT * 2)
    mailing = make_mailing(2)

    result, took = timed_run(mailing)

    assert result.status == Attempt.Status.FAILURE
    assert result.pending == 2
    assert took < 2 * (settings.EMAIL_TIMEOUT * 2) + 1


def test_a_closed_port_fails_fast_and_the_next_tick_serves_everyone(
    fast_retries, make_mailing, smtp_sink
):
    mailing = make_mailing(3)
    sink_port = fast_retries.EMAIL_PORT
    fast_retries.EMAIL_PORT = free_port()  # nobody listens here

    result, took = timed_run(mailing)

    assert result.status == Attempt.Status.FAILURE
    assert result.pending == 3
    assert "refused the connection" in result.server_response
    assert took < 1.5
    assert smtp_sink.messages == []

    fast_retries.EMAIL_PORT = sink_port
    tick = sending.tick()

    assert tick.resumed == [result.attempt_id]
    attempt = Attempt.objects.get()
    assert attempt.is_finished
    assert attempt.status == Attempt.Status.SUCCESS
    assert attempt.sent_count == 3
    assert sorted(r for m in smtp_sink.messages for r in m.envelope_to) == [
        f"r{i}@example.org" for i in range(3)
    ]


def test_a_server_deferring_everything_leaves_recipients_pending_not_failed(
    raw_smtp, make_mailing
):
    raw_smtp(rcpt_reply=lambda rcpt: "421 4.7.0 Too many connections, slow down")
    mailing = make_mailing(2)

    result, took = timed_run(mailing)

    assert result.status == Attempt.Status.FAILURE
    assert set(outcomes().values()) == {"pending"}
    assert "421" in result.server_response
    assert took < 2


def test_a_deferred_recipient_waits_for_the_next_run_while_others_are_served(
    raw_smtp, make_mailing
):
    server = raw_smtp(
        rcpt_reply=lambda rcpt: (
            "450 4.2.0 Mailbox busy" if rcpt.startswith("r0") else "250 OK"
        )
    )
    mailing = make_mailing(3)

    result, took = timed_run(mailing)

    assert outcomes() == {
        "r0@example.org": "pending",
        "r1@example.org": "sent",
        "r2@example.org": "sent",
    }
    assert not result.finished and result.pending == 1
    assert Delivery.objects.get(email="r0@example.org").tries == 1
    assert sorted(server.received_by()) == ["r1@example.org", "r2@example.org"]
    assert took < 2


def test_a_recipient_deferred_on_every_run_is_eventually_marked_failed(
    raw_smtp, make_mailing, settings
):
    settings.MAILSHOT_MAX_TRIES_PER_RECIPIENT = 2
    raw_smtp(
        rcpt_reply=lambda rcpt: (
            "450 4.2.0 Mailbox busy" if rcpt.startswith("r0") else "250 OK"
        )
    )
    mailing = make_mailing(2)

    sending.run_due_mailing(mailing.pk)
    assert outcomes() == {"r0@example.org": "pending", "r1@example.org": "sent"}
    sending.tick()

    assert outcomes() == {"r0@example.org": "failed", "r1@example.org": "sent"}
    attempt = Attempt.objects.get()
    assert attempt.is_finished and attempt.status == Attempt.Status.PARTIAL
    assert Delivery.objects.get(email="r0@example.org").server_response.startswith(
        "450"
    )


def test_a_server_deferring_every_recipient_trips_the_breaker(raw_smtp, make_mailing):
    raw_smtp(rcpt_reply=lambda rcpt: "451 4.3.0 Try again later")
    mailing = make_mailing(6)

    result, took = timed_run(mailing)

    assert result.status == Attempt.Status.FAILURE
    assert set(outcomes().values()) == {"pending"}
    assert Delivery.objects.filter(tries=1).count() == 3
    assert took < 2


def test_long_and_undecodable_replies_are_stored_short_and_readable(
    raw_smtp, make_mailing
):
    raw_smtp(rcpt_reply=lambda rcpt: "550 " + "\xff" * 10 + "x" * 900)
    mailing = make_mailing(1)

    sending.run_due_mailing(mailing.pk)

    reply = Delivery.objects.get().server_response
    assert len(reply) <= 500
    assert reply.startswith("550 ")
    assert "\n" not in reply


def test_a_server_refusing_our_greeting_fails_the_run_but_no_recipient(
    raw_smtp, make_mailing
):
    server = raw_smtp(greeting="554 5.7.1 You are not welcome here")
    mailing = make_mailing(2)

    result, took = timed_run(mailing)

    assert result.status == Attempt.Status.FAILURE
    assert set(outcomes().values()) == {"pending"}
    assert "554" in result.server_response
    assert server.connections == 4  # bounded: one try and three retries
    assert took < 2


def test_a_run_left_pending_is_closed_as_skipped_if_the_mailing_was_disabled(
    fast_retries, make_mailing, smtp_sink
):
    mailing = make_mailing(2)
    port = fast_retries.EMAIL_PORT
    fast_retries.EMAIL_PORT = free_port()
    sending.run_due_mailing(mailing.pk)
    fast_retries.EMAIL_PORT = port
    mailing.is_enabled = False
    mailing.save()

    sending.tick()

    attempt = Attempt.objects.get()
    assert attempt.is_finished and attempt.skipped_count == 2
    assert attempt.status == Attempt.Status.FAILURE  # nobody was served
    assert "disabled" in attempt.server_response
    assert smtp_sink.messages == []


def test_a_worker_whose_lease_was_taken_while_retrying_stops_at_once(
    raw_smtp, make_mailing, monkeypatch
):
    raw_smtp(rcpt_reply=lambda rcpt: "451 4.3.0 Try again later")
    mailing = make_mailing(2)
    attempt = sending.start_manual_run(mailing.pk, worker="slow")
    retrying = threading.Event()
    monkeypatch.setattr(pipeline, "RENEW_SECONDS", 0)  # renew at every turn
    renew_lease = claims.renew_lease

    def renew_after_another_worker_took_over(attempt_id, worker):
        if retrying.is_set():
            Attempt.objects.filter(pk=attempt.pk).update(lease_owner="other")
        return renew_lease(attempt_id, worker)

    monkeypatch.setattr(claims, "renew_lease", renew_after_another_worker_took_over)
    session = sending.SMTPSession()

    def back_off(seconds):
        retrying.set()
        session.cancelled.wait(5)  # the back-off ends when the run is stopped

    session.sleep = back_off
    result = sending.run_attempt(attempt.pk, worker="slow", session=session)

    assert not result.finished
    assert set(outcomes().values()) == {"pending"}
    assert not Delivery.objects.filter(tries__gt=0).exists()
    assert Attempt.objects.get().lease_owner == "other"
