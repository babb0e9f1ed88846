from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.mailings.models import Attempt, Delivery
from tests.factories import ClientFactory, MailingFactory

pytestmark = pytest.mark.django_db


def make_attempt(mailing, *, finished_days_ago, recipients=3):
    finished = timezone.now() - timedelta(days=finished_days_ago)
    attempt = Attempt.objects.create(
        mailing=mailing,
        attempted_at=finished - timedelta(minutes=5),
        finished_at=finished,
        status=Attempt.Status.SUCCESS,
        server_response="250 OK",
        total_count=recipients,
        sent_count=recipients,
    )
    for client in ClientFactory.create_batch(recipients, owner=mailing.owner):
        Delivery.objects.create(
            attempt=attempt, client=client, email=client.email, outcome="sent"
        )
    return attempt


def test_purging_removes_old_deliveries_and_keeps_the_attempt_summary(alice):
    mailing = MailingFactory(owner=alice)
    old = make_attempt(mailing, finished_days_ago=200)
    recent = make_attempt(mailing, finished_days_ago=10)
    out = StringIO()
    call_command("purge_deliveries", "--older-than", "180", stdout=out, verbosity=0)
    assert "Deleted 3 deliveries and 0 attempts" in out.getvalue()
    assert not Delivery.objects.filter(attempt=old).exists()
    assert Delivery.objects.filter(attempt=recent).count() == 3
    old.refresh_from_db()
    assert (old.sent_count, old.status, old.server_response) == (3, "success", "250 OK")


def test_purging_with_attempts_removes_old_attempts_too(alice):
    mailing = MailingFactory(owner=alice)
    old = make_attempt(mailing, finished_days_ago=400)
    call_command("purge_deliveries", "--older-than", "180", "--attempts", verbosity=0)
    assert not Attempt.objects.filter(pk=old.pk).exists()


def test_a_run_still_in_progress_is_never_purged(alice):
    mailing = MailingFactory(owner=alice)
    attempt = make_attempt(mailing, finished_days_ago=300)
    Attempt.objects.filter(pk=attempt.pk).update(finished_at=None)
    call_command("purge_deliveries", "--older-than", "1", "--attempts", verbosity=0)
    assert Delivery.objects.filter(attempt=attempt).count() == 3


def test_dry_run_only_counts(alice):
    make_attempt(MailingFactory(owner=alice), finished_days_ago=200)
    out = StringIO()
    call_command("purge_deliveries", "--older-than", "180", "--dry-run", stdout=out)
    assert "Would delete 3 deliveries of 1 attempts" in out.getvalue()
    assert Delivery.objects.count() == 3


def test_a_zero_day_window_is_refused_with_one_line():
    with pytest.raises(CommandError, match="at least 1 day"):
        call_command("purge_deliveries", "--older-than", "0")
