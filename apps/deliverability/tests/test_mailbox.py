"""The bounce mailbox end to end, against a real IMAP server (Dovecot) and a real
SMTP server: a mailing goes out with VERP envelope senders, the bounces land in
the mailbox, ``fetch_bounces`` reads them."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.audiences.models import Suppression
from apps.deliverability import mailbox as mailbox_module
from apps.deliverability import processing, tasks, verp
from apps.deliverability.conf import mailbox
from apps.deliverability.models import BounceEvent
from apps.deliverability.tests.builders import arf, dsn
from apps.mailings import sending
from apps.mailings.models import Delivery
from tests.factories import ClientFactory, MailingFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent_mailing(alice, smtp_sink, bounce_box, settings):
    """A mailing to three clients, really sent through the SMTP sink."""
    settings.EMAIL_TIMEOUT = 5
    clients = [ClientFactory(owner=alice, email=f"r{i}@example.org") for i in range(3)]
    now = timezone.now()
    mailing = MailingFactory(
        owner=alice,
        start_at=now - timedelta(minutes=1),
        end_at=now + timedelta(days=1),
    )
    mailing.clients.set(clients)
    sending.run_mailing_now(mailing.pk)
    return mailing


def test_each_delivery_goes_out_with_its_own_verp_envelope_sender(
    sent_mailing, smtp_sink
):
    deliveries = {d.email: d for d in Delivery.objects.all()}
    assert len(smtp_sink.messages) == 3
    for received in smtp_sink.messages:
        (rcpt,) = received.envelope_to
        delivery = deliveries[rcpt]
        assert received.envelope_from == verp.return_path(delivery.pk)
        assert verp.delivery_id_from_addresses([received.envelope_from]) == delivery.pk


def test_fetch_bounces_reads_the_mailbox_and_suppresses(
    sent_mailing, bounce_box, capsys
):
    server, user, password = bounce_box
    hard = Delivery.objects.get(email="r0@example.org")
    angry = Delivery.objects.get(email="r1@example.org")
    server.deliver(
        user,
        password,
        dsn(to=verp.return_path(hard.pk), recipient=hard.email),
        arf(
            to="bounces@mailshot.example",
            recipient=angry.email,
            message_id=angry.message_id,
        ),
        dsn(to="bounces@mailshot.example", recipient="nobody-we-know@example.net"),
    )

    call_command("fetch_bounces", "--no-progress")

    out = capsys.readouterr().out
    assert "3 read: 1 hard and 0 soft bounces, 1 complaints" in out
    assert "1 not matched" in out
    hard.refresh_from_db()
    angry.refresh_from_db()
    assert hard.bounce_type == "hard"
    assert angry.complained_at is not None
    assert set(
        Suppression.objects.filter(owner__isnull=True).values_list("email", "reason")
    ) == {(hard.email, "hard_bounce"), (angry.email, "complaint")}
    flags = server.flags(user, password)
    assert mailbox_module.DONE in flags[0] and b"\\Seen" in flags[0]
    assert mailbox_module.DONE in flags[1]
    # Not understood: kept, unread, marked so it is not read every minute.
    assert mailbox_module.UNMATCHED in flags[2] and b"\\Seen" not in flags[2]

    # The next run has nothing left to read.
    call_command("fetch_bounces", "--no-progress")
    assert "0 read" in capsys.readouterr().out
    assert BounceEvent.objects.count() == 3


def test_a_crash_after_the_commit_reads_the_message_again_without_changing_anything(
    sent_mailing, bounce_box
):
    server, user, password = bounce_box
    delivery = Delivery.objects.get(email="r2@example.org")
    server.deliver(
        user, password, dsn(to=verp.return_path(delivery.pk), recipient=delivery.email)
    )
    # The process dies between committing the outcome and flagging the message.
    with mock.patch(
        "imapclient.IMAPClient.add_flags", side_effect=ConnectionResetError("killed")
    ):
        with pytest.raises(mailbox_module.MailboxUnavailable):
            mailbox_module.fetch_bounces(mailbox())
    assert BounceEvent.objects.count() == 1
    assert server.flags(user, password) == [set()]

    summary = mailbox_module.fetch_bounces(mailbox())

    assert (summary.read, summary.applied.repeated, summary.applied.hard) == (1, 1, 0)
    assert BounceEvent.objects.count() == 1
    assert mailbox_module.DONE in server.flags(user, password)[0]


def test_the_cluster_task_reads_the_mailbox(sent_mailing, bounce_box):
    server, user, password = bounce_box
    delivery = Delivery.objects.get(email="r0@example.org")
    server.deliver(
        user, password, dsn(to=verp.return_path(delivery.pk), recipient=delivery.email)
    )

    assert tasks.fetch_bounces().startswith("1 read: 1 hard")


def test_a_wrong_password_exits_non_zero_with_one_readable_line(bounce_box, settings):
    server, user, _password = bounce_box
    settings.MAILSHOT_BOUNCE_IMAP_URL = server.url(user, "wrong")

    with pytest.raises(
        CommandError, match=r"^cannot open imap://bounces\d+@127\.0\.0\.1"
    ):
        call_command("fetch_bounces", "--no-progress")
    assert "wrong" not in str(settings.MAILSHOT_BOUNCE_IMAP_URL).split("@")[1]


def test_a_closed_port_exits_non_zero(db, settings):
    from apps.core.smtpsink import free_port

    settings.MAILSHOT_BOUNCE_IMAP_URL = f"imap://u:p@127.0.0.1:{free_port()}/INBOX"

    with pytest.raises(CommandError, match="cannot connect to imap://u@127.0.0.1"):
        call_command("fetch_bounces", "--no-progress")


def test_without_a_mailbox_the_command_says_what_to_set(db, settings):
    settings.MAILSHOT_BOUNCE_IMAP_URL = ""

    with pytest.raises(CommandError, match="MAILSHOT_BOUNCE_IMAP_URL is not set"):
        call_command("fetch_bounces")


def test_the_schedule_exists_only_with_a_mailbox(db, settings):
    from django_q.models import Schedule

    from apps.deliverability.signals import SCHEDULE_NAME, ensure_bounce_schedule

    settings.MAILSHOT_BOUNCE_IMAP_URL = "imaps://u:p@imap.example.com/INBOX"
    ensure_bounce_schedule()
    schedule = Schedule.objects.get(name=SCHEDULE_NAME)
    assert (schedule.schedule_type, schedule.minutes) == (Schedule.MINUTES, 1)

    settings.MAILSHOT_BOUNCE_IMAP_URL = ""
    ensure_bounce_schedule()
    assert not Schedule.objects.filter(name=SCHEDULE_NAME).exists()


def test_processing_is_one_transaction(sent_mailing):
    """A failure half-way leaves nothing behind (the message is read again later)."""
    delivery = Delivery.objects.get(email="r0@example.org")
    report = __import__("apps.deliverability.reports", fromlist=["parse"]).parse(
        dsn(to=verp.return_path(delivery.pk), recipient=delivery.email)
    )
    with mock.patch.object(
        processing, "suppress_sitewide", side_effect=RuntimeError("database gone")
    ):
        with pytest.raises(RuntimeError):
            processing.apply(report, source="test")

    assert BounceEvent.objects.count() == 0
    delivery.refresh_from_db()
    assert delivery.bounce_type == ""
