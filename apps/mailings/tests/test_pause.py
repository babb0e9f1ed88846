"""Issue 15, point 1: the owner pauses and resumes their own mailing; the engine
treats a paused mailing like a disabled one (not due, no manual run, a run in
progress stops within the re-check interval)."""

import pytest
from django.utils import timezone

from apps.mailings import sending, services
from apps.mailings.models import Attempt, Mailing
from apps.mailings.sending import pipeline

pytestmark = [pytest.mark.django_db, pytest.mark.smtp]


@pytest.fixture
def small_window(settings, monkeypatch):
    """As in test_sending: batches of 2 on one connection, the mailing re-checked
    at every turn; returns how many more may go out after a stop."""
    settings.MAILSHOT_BATCH_SIZE = 2
    settings.MAILSHOT_SMTP_CONNECTIONS = 1
    monkeypatch.setattr(pipeline, "STOP_CHECK_SECONDS", 0)
    return 2 + 2 * 2 + 1


def test_a_paused_mailing_is_not_due_and_cannot_be_sent_now(sink, make_mailing):
    mailing = make_mailing(2)
    services.mailing_set_paused(mailing=mailing, paused=True)

    assert sending.run_due_mailing(mailing.pk) is None
    with pytest.raises(sending.CannotRun, match="paused"):
        sending.run_mailing_now(mailing.pk)
    assert sink.messages == []
    assert Attempt.objects.count() == 0


def test_resuming_plans_the_run_again(
    sink, make_mailing, django_capture_on_commit_callbacks
):
    mailing = make_mailing(2)
    services.mailing_set_paused(mailing=mailing, paused=True)

    with django_capture_on_commit_callbacks(execute=True):
        services.mailing_set_paused(mailing=mailing, paused=False)

    assert len(sink.messages) == 2
    mailing.refresh_from_db()
    assert not mailing.is_paused


def test_pausing_mid_run_stops_it_and_skips_the_rest(sink, make_mailing, small_window):
    mailing = make_mailing(30)
    seen = []

    def progress(outcome):
        seen.append(outcome)
        if len(seen) == 2:
            services.mailing_set_paused(mailing=mailing, paused=True)

    attempt = sending.start_manual_run(mailing.pk, worker="w")
    result = sending.run_attempt(attempt.pk, worker="w", progress=progress)

    assert 2 <= result.sent <= 2 + small_window
    assert result.skipped == 30 - result.sent and result.pending == 0
    assert len(sink.messages) == result.sent
    assert "paused" in Attempt.objects.get().server_response


def test_a_stale_form_save_does_not_undo_a_managers_disable(make_mailing):
    mailing = make_mailing(1, start_at=timezone.now() + timezone.timedelta(days=1))
    stale = Mailing.objects.get(pk=mailing.pk)
    services.mailing_set_enabled(mailing=mailing, enabled=False)
    services.mailing_set_paused(mailing=mailing, paused=True)

    services.mailing_save(mailing=stale)

    stale.refresh_from_db()
    assert (stale.is_enabled, stale.is_paused) == (False, True)
