"""The engine and sender identities: nothing goes out as an address that is not
verified, and what a run writes does not depend on the thread's language."""

from __future__ import annotations

import pytest
from django.utils import timezone, translation

from apps.content.models import SenderIdentity
from apps.mailings import sending
from apps.mailings.models import Attempt, Delivery, Mailing
from apps.mailings.sending import pipeline

pytestmark = [pytest.mark.django_db(transaction=False), pytest.mark.smtp]


def sender_of(owner, address="news@shop.example", *, verified=True, name="Shop"):
    return SenderIdentity.objects.create(
        owner=owner,
        from_name=name,
        from_email=address,
        verified_at=timezone.now() if verified else None,
    )


def with_sender(mailing: Mailing, identity: SenderIdentity) -> Mailing:
    # Set behind the form's back, as an API client or an old row could.
    Mailing.objects.filter(pk=mailing.pk).update(sender=identity)
    mailing.refresh_from_db()
    return mailing


@pytest.fixture
def small_window(settings, monkeypatch):
    """Batches of 2 on one connection, the mailing re-checked at every turn."""
    settings.MAILSHOT_BATCH_SIZE = 2
    settings.MAILSHOT_SMTP_CONNECTIONS = 1
    monkeypatch.setattr(pipeline, "STOP_CHECK_SECONDS", 0)
    return 2 + 2 * 2 + 1


def test_a_due_mailing_with_an_unverified_sender_sends_nothing_and_says_why(
    sink, make_mailing, alice
):
    mailing = with_sender(make_mailing(3), sender_of(alice, verified=False))

    result = sending.run_due_mailing(mailing.pk)

    assert sink.messages == []
    assert (result.sent, result.skipped, result.pending) == (0, 3, 0)
    attempt = Attempt.objects.get(mailing=mailing)
    assert "not verified" in attempt.server_response
    assert set(Delivery.objects.values_list("server_response", flat=True)) == {
        "Stopped: the sender address is not verified."
    }


def test_send_now_refuses_an_unverified_sender_with_a_readable_reason(
    sink, make_mailing, alice
):
    mailing = with_sender(
        make_mailing(2), sender_of(alice, "pending@shop.example", verified=False)
    )

    with pytest.raises(sending.CannotRun, match="pending@shop.example"):
        sending.run_mailing_now(mailing.pk)
    assert sink.messages == []


def test_someone_elses_verified_identity_is_refused_too(sink, make_mailing, alice, bob):
    mailing = with_sender(make_mailing(2), sender_of(bob, "bob@shop.example"))

    result = sending.run_due_mailing(mailing.pk)

    assert sink.messages == [] and result.sent == 0
    with pytest.raises(sending.CannotRun):
        sending.run_mailing_now(mailing.pk)


def test_an_attempt_resumed_after_the_sender_lost_its_verification_sends_nothing(
    sink, make_mailing, alice
):
    identity = sender_of(alice)
    mailing = with_sender(make_mailing(3), identity)
    attempt = sending.start_manual_run(mailing.pk, worker="w")
    SenderIdentity.objects.filter(pk=identity.pk).update(verified_at=None)

    helped = sending.assist_attempt(attempt.pk)  # a helper of another worker
    led = sending.run_attempt(attempt.pk, worker="w")  # the lease holder

    assert sink.messages == []
    assert helped is not None and helped.skipped == 3 and helped.finished
    assert led.finished and led.sent == 0


def test_the_lease_holder_refuses_it_as_well(sink, make_mailing, alice):
    identity = sender_of(alice)
    mailing = with_sender(make_mailing(3), identity)
    attempt = sending.start_manual_run(mailing.pk, worker="w")
    SenderIdentity.objects.filter(pk=identity.pk).update(verified_at=None)

    result = sending.run_attempt(attempt.pk, worker="w")

    assert sink.messages == []
    assert (result.sent, result.skipped, result.finished) == (0, 3, True)
    assert "not verified" in result.server_response


def test_a_sender_unverified_mid_run_stops_the_run(
    sink, make_mailing, alice, small_window
):
    identity = sender_of(alice)
    mailing = with_sender(make_mailing(30), identity)
    seen = []

    def progress(outcome):
        seen.append(outcome)
        if len(seen) == 2:
            SenderIdentity.objects.filter(pk=identity.pk).update(verified_at=None)

    attempt = sending.start_manual_run(mailing.pk, worker="w")
    result = sending.run_attempt(attempt.pk, worker="w", progress=progress)

    assert 2 <= result.sent <= 2 + small_window
    assert result.skipped == 30 - result.sent
    assert len(sink.messages) == result.sent
    assert "not verified" in result.server_response


def test_a_verified_sender_goes_out(sink, make_mailing, alice):
    mailing = with_sender(make_mailing(2), sender_of(alice))

    result = sending.run_due_mailing(mailing.pk)

    assert result.sent == 2 and len(sink.messages) == 2


def test_what_a_run_writes_is_in_the_sites_language_whatever_the_thread_speaks(
    sink, make_mailing, small_window
):
    """A request served in Russian earlier in the same thread (the admin, a 403
    page) must not leave the ledger in Russian: run order decided it before."""
    mailing = make_mailing(30)
    seen = []

    def progress(outcome):
        seen.append(outcome)
        if len(seen) == 2:
            Mailing.objects.filter(pk=mailing.pk).update(is_enabled=False)

    translation.activate("ru")
    try:
        attempt = sending.start_manual_run(mailing.pk, worker="w")
        result = sending.run_attempt(attempt.pk, worker="w", progress=progress)
        assert translation.get_language() == "ru"  # left as it was found
    finally:
        translation.deactivate()

    assert "disabled" in Attempt.objects.get().server_response
    assert result.skipped and "disabled" in result.server_response
