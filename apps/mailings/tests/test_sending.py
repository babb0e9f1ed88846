"""The engine against a well-behaved SMTP server (aiosmtpd)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.content import footers
from apps.mailings import emails, sending
from apps.mailings.models import Attempt, Delivery, Mailing
from apps.mailings.sending import pipeline

pytestmark = [pytest.mark.django_db(transaction=False), pytest.mark.smtp]


def test_a_due_mailing_reaches_every_recipient_exactly_once(sink, make_mailing):
    mailing = make_mailing(5)

    result = sending.run_due_mailing(mailing.pk)

    assert result.status == Attempt.Status.SUCCESS
    assert (result.sent, result.failed, result.skipped, result.pending) == (5, 0, 0, 0)
    received = sorted(r for m in sink.messages for r in m.envelope_to)
    assert received == [f"r{i}@example.org" for i in range(5)]
    attempt = Attempt.objects.get(mailing=mailing)
    assert attempt.is_finished and attempt.sent_count == 5
    assert attempt.server_response.startswith("250")
    assert set(attempt.deliveries.values_list("outcome", flat=True)) == {"sent"}


def test_a_second_tick_does_not_send_a_once_mailing_again(sink, make_mailing):
    mailing = make_mailing(2)
    sending.run_due_mailing(mailing.pk)

    assert sending.run_due_mailing(mailing.pk) is None
    sending.tick()

    assert len(sink.messages) == 2
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.FINISHED
    assert mailing.next_run_at is None


def test_a_daily_mailing_keeps_running_and_moves_its_next_run_a_day_on(
    sink, make_mailing
):
    mailing = make_mailing(1, periodicity=Mailing.Periodicity.DAILY)
    scheduled = mailing.next_run_at

    sending.run_due_mailing(mailing.pk)

    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.RUNNING
    assert mailing.next_run_at == scheduled + timezone.timedelta(days=1)


def test_unsubscribed_clients_are_skipped_and_counted(sink, make_mailing):
    mailing = make_mailing(3)
    mailing.clients.filter(email="r1@example.org").update(is_unsubscribed=True)

    result = sending.run_due_mailing(mailing.pk)

    assert (result.sent, result.skipped) == (2, 1)
    assert result.status == Attempt.Status.SUCCESS
    skipped = Delivery.objects.get(outcome="skipped")
    assert skipped.email == "r1@example.org"
    assert "r1@example.org" not in [r for m in sink.messages for r in m.envelope_to]


def test_a_blocked_owners_mailing_is_not_due_and_sends_nothing(
    sink, make_mailing, alice
):
    mailing = make_mailing(2)
    alice.is_blocked = True
    alice.save()

    assert sending.run_due_mailing(mailing.pk) is None
    with pytest.raises(sending.CannotRun):
        sending.run_mailing_now(mailing.pk)
    assert sink.messages == []


@pytest.fixture
def small_window(settings, monkeypatch):
    """Batches of 2 on one connection, the mailing re-checked at every turn: a stop
    is then seen within the in-flight window (two batches and the message on the
    wire), which bounds how many more go out after it."""
    settings.MAILSHOT_BATCH_SIZE = 2
    settings.MAILSHOT_SMTP_CONNECTIONS = 1
    monkeypatch.setattr(pipeline, "STOP_CHECK_SECONDS", 0)
    # Outcomes recorded in the same write as the one that triggers the stop, plus
    # the window.
    return 2 + 2 * 2 + 1


def test_disabling_the_mailing_mid_run_stops_it_and_skips_the_rest(
    sink, make_mailing, small_window
):
    mailing = make_mailing(30)
    seen = []

    def progress(outcome):
        seen.append(outcome)
        if len(seen) == 2:
            Mailing.objects.filter(pk=mailing.pk).update(is_enabled=False)

    attempt = sending.start_manual_run(mailing.pk, worker="w")
    result = sending.run_attempt(attempt.pk, worker="w", progress=progress)

    assert 2 <= result.sent <= 2 + small_window
    assert result.skipped == 30 - result.sent and result.pending == 0
    assert result.status == Attempt.Status.PARTIAL  # not everyone was served
    assert len(sink.messages) == result.sent
    assert "disabled" in Attempt.objects.get().server_response


def test_blocking_the_owner_mid_run_stops_it(sink, make_mailing, alice, small_window):
    mailing = make_mailing(30)

    def progress(outcome):
        type(alice).objects.filter(pk=alice.pk).update(is_blocked=True)

    attempt = sending.start_manual_run(mailing.pk, worker="w")
    result = sending.run_attempt(attempt.pk, worker="w", progress=progress)

    assert 1 <= result.sent <= 1 + small_window
    assert result.skipped == 30 - result.sent
    assert len(sink.messages) == result.sent
    assert "blocked" in result.server_response


def test_messages_carry_a_stable_message_id_and_one_click_unsubscribe(
    sink, make_mailing
):
    mailing = make_mailing(1)
    sending.run_due_mailing(mailing.pk)

    message = sink.messages[0].message
    delivery = Delivery.objects.get()
    client = delivery.client
    assert message["Message-ID"] == delivery.message_id
    assert delivery.message_id == emails.make_message_id(
        attempt_id=delivery.attempt_id, delivery_id=delivery.pk
    )
    # The link names the mailing (signed), so that its page speaks the message's
    # language and names its sender.
    link = (
        f"https://mailshot.example/unsubscribe/{client.unsubscribe_token}/"
        f"?m={footers.mailing_reference(mailing.pk)}"
    )
    assert message["List-Unsubscribe"] == f"<{link}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    body = message.get_content()
    assert link in body
    assert "Dear R 0 <r0@example.org>." in body
    assert message["Subject"] == "Hi R"


def test_user_text_cannot_inject_headers_or_evaluate_template_code(sink, make_mailing):
    mailing = make_mailing(1)
    mailing.message.subject = "Hello\r\nBcc: victim@example.net {{ full_name }}"
    mailing.message.body = "{% load static %}{{ settings.SECRET_KEY }} {{full_name}}"
    mailing.message.save()
    mailing.clients.update(full_name="Eve\nBcc: x@example.net")

    sending.run_due_mailing(mailing.pk)

    received = sink.messages[0]
    assert received.envelope_to == ["r0@example.org"]
    message = received.message
    assert message["Bcc"] is None
    assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
    body = message.get_content()
    assert "{% load static %}{{ settings.SECRET_KEY }}" in body
    assert "Eve" in body


def test_an_internationalised_domain_is_sent_in_punycode_and_a_utf8_mailbox_fails(
    sink, make_mailing
):
    mailing = make_mailing(2)
    mailing.clients.filter(email="r0@example.org").update(email="anna@пример.рф")
    mailing.clients.filter(email="r1@example.org").update(email="анна@example.org")

    result = sending.run_due_mailing(mailing.pk)

    assert [m.envelope_to for m in sink.messages] == [["anna@xn--e1afmkfd.xn--p1ai"]]
    assert (result.sent, result.failed) == (1, 1)
    assert "SMTPUTF8" in Delivery.objects.get(outcome="failed").server_response


def test_send_rate_spaces_messages(sink, make_mailing):
    mailing = make_mailing(3)
    started = timezone.now()

    sending.run_mailing_now(mailing.pk, rate=20)

    assert (timezone.now() - started).total_seconds() >= 2 / 20
    assert len(sink.messages) == 3


def test_queries_per_recipient_stay_well_below_one(
    sink, make_mailing, settings, monkeypatch
):
    """Queries come per batch, not per recipient: a re-check of the mailing, the
    claim (a SELECT … SKIP LOCKED, one UPDATE, one read with the clients) and one
    write of the batch's outcomes, about 10 with savepoints; plus about 35 to open
    and close a run. (Time-driven writes and re-checks are switched off here so the
    count does not depend on the machine's speed.) All database work happens on the
    calling thread's connection, so this counts every query of the run."""
    settings.MAILSHOT_BATCH_SIZE = 50
    monkeypatch.setattr(pipeline, "FLUSH_SECONDS", 3600)
    monkeypatch.setattr(pipeline, "STOP_CHECK_SECONDS", 3600)
    counts = {}
    for n in (50, 200):
        mailing = make_mailing(n, owner=None) if n == 50 else _other_mailing(n)
        with CaptureQueriesContext(connection) as queries:
            result = sending.run_mailing_now(mailing.pk)
        assert result.sent == n
        counts[n] = len(queries)

    per_recipient = (counts[200] - counts[50]) / 150
    assert per_recipient <= 12 / 50, counts
    assert counts[50] <= 12 + 45, counts


def test_the_engine_never_reads_all_deliveries_at_once(sink, make_mailing, settings):
    """Streaming: every read of the ledger is a batch (LIMIT or a list of ids no
    longer than a batch) or an aggregate, so memory does not grow with the run."""
    settings.MAILSHOT_BATCH_SIZE = 10
    mailing = make_mailing(45)

    with CaptureQueriesContext(connection) as queries:
        result = sending.run_mailing_now(mailing.pk)

    assert result.sent == 45
    reads = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("SELECT") and '"mailings_delivery"' in q["sql"]
    ]
    assert reads
    for sql in reads:
        batched = "LIMIT" in sql or "COUNT(" in sql
        if not batched and " IN (" in sql:
            ids = sql.split(" IN (", 1)[1].split(")", 1)[0]
            batched = ids.count(",") < 10
        assert batched, sql


def _other_mailing(n):
    from tests.factories import ClientFactory, MailingFactory

    mailing = MailingFactory(
        start_at=timezone.now() - timezone.timedelta(minutes=1),
        clients=[],
    )
    mailing.clients.set(
        [
            ClientFactory(owner=mailing.owner, email=f"o{i}@example.org")
            for i in range(n)
        ]
    )
    return mailing
