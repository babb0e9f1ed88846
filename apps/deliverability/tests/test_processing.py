"""What a bounce or complaint changes, against a hand-built ledger."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db.models import QuerySet
from django.utils import timezone

from apps.audiences import services as audience_services
from apps.audiences.models import Subscription, Suppression
from apps.audiences.tests.factories import ClientListFactory
from apps.deliverability import processing, reports, verp
from apps.deliverability.models import BounceEvent
from apps.deliverability.tests.builders import arf, dsn
from apps.mailings import emails
from apps.mailings.models import Attempt, Delivery
from tests.factories import ClientFactory, MailingFactory

pytestmark = pytest.mark.django_db

BOX = "bounces@mailshot.example"


@pytest.fixture(autouse=True)
def _bounce_address(settings):
    settings.MAILSHOT_BOUNCE_ADDRESS = BOX


@pytest.fixture
def sent(alice):
    """sent(email) -> a delivery of one of alice's mailings, sent a minute ago."""
    mailing = MailingFactory(owner=alice)
    attempt = Attempt.objects.create(
        mailing=mailing, attempted_at=timezone.now(), finished_at=timezone.now()
    )

    def _sent(email: str = "gone@example.org", *, age=timedelta(minutes=1)) -> Delivery:
        client = ClientFactory.create(owner=alice, email=email)
        delivery = Delivery.objects.create(
            attempt=attempt,
            client=client,
            email=email,
            outcome=Delivery.Outcome.SENT,
            processed_at=timezone.now() - age,
        )
        delivery.message_id = emails.make_message_id(
            attempt_id=attempt.pk, delivery_id=delivery.pk
        )
        delivery.save(update_fields=["message_id"])
        return delivery

    return _sent


def apply(raw: bytes) -> processing.Applied:
    return processing.apply(reports.parse(raw), source="test")


def sitewide(email: str) -> Suppression | None:
    return Suppression.objects.filter(owner__isnull=True, email__iexact=email).first()


def test_a_hard_bounce_to_the_verp_address_suppresses_site_wide(sent):
    delivery = sent()

    applied = apply(dsn(to=verp.return_path(delivery.pk), recipient=delivery.email))

    assert (applied.matched, applied.hard, applied.suppressed) == (1, 1, 1)
    delivery.refresh_from_db()
    assert delivery.bounce_type == "hard" and delivery.bounced_at is not None
    entry = sitewide(delivery.email)
    assert entry.reason == Suppression.Reason.HARD_BOUNCE
    assert f"delivery {delivery.pk}" in entry.source
    event = BounceEvent.objects.get()
    assert (event.kind, event.status, event.delivery_id) == (
        "hard",
        "5.1.1",
        delivery.pk,
    )


def test_an_upper_cased_verp_address_still_matches(sent):
    delivery = sent()

    apply(dsn(to=verp.return_path(delivery.pk).upper(), recipient=delivery.email))

    delivery.refresh_from_db()
    assert delivery.bounce_type == "hard"


def test_a_forged_token_matches_nothing_by_token(sent):
    delivery = sent()
    forged = f"bounces+{delivery.pk:x}-000000000000@mailshot.example"

    report = reports.parse(dsn(to=forged, recipient="other@example.org"))

    assert report.verp_delivery_id is None
    assert processing.match(report, "other@example.org") is None


def test_without_a_token_the_returned_message_id_matches(sent):
    delivery = sent()

    apply(dsn(to=BOX, recipient=delivery.email, message_id=delivery.message_id))

    delivery.refresh_from_db()
    assert delivery.bounce_type == "hard"


def test_without_token_or_message_id_the_recent_delivery_to_that_address_matches(sent):
    old = sent("old@example.org", age=timedelta(days=40))
    recent = sent("recent@example.org")

    apply(dsn(to=BOX, recipient="recent@example.org"))
    apply(dsn(to=BOX, recipient="old@example.org", diagnostic="550 5.1.1 gone"))

    recent.refresh_from_db()
    old.refresh_from_db()
    assert recent.bounce_type == "hard"
    assert old.bounce_type == ""  # 40 days ago: too old to be sure
    assert BounceEvent.objects.filter(
        kind="unmatched", email="old@example.org"
    ).exists()
    assert sitewide("old@example.org") is None


def test_a_soft_bounce_is_recorded_and_the_third_in_30_days_suppresses(sent):
    delivery = sent("full@example.org")
    for n in range(2):
        apply(
            dsn(
                to=verp.return_path(delivery.pk),
                recipient=delivery.email,
                status="4.2.2",
                diagnostic=f"452 4.2.2 Mailbox full ({n})",
            )
        )
    delivery.refresh_from_db()
    assert delivery.bounce_type == "soft"
    assert sitewide(delivery.email) is None

    applied = apply(
        dsn(
            to=verp.return_path(delivery.pk),
            recipient=delivery.email,
            status="5.2.2",
            diagnostic="552 5.2.2 Mailbox full, for the third time",
        )
    )

    assert applied.suppressed == 1
    assert "3 soft bounces" in sitewide(delivery.email).source


def test_a_hard_bounce_is_not_downgraded_by_a_later_soft_one(sent):
    delivery = sent()
    apply(dsn(to=verp.return_path(delivery.pk), recipient=delivery.email))
    apply(
        dsn(
            to=verp.return_path(delivery.pk),
            recipient=delivery.email,
            status="4.4.1",
            diagnostic="421 4.4.1 later",
        )
    )

    delivery.refresh_from_db()
    assert delivery.bounce_type == "hard"


def test_a_complaint_suppresses_site_wide_and_unsubscribes_from_that_owner(sent, alice):
    delivery = sent("angry@example.org")

    applied = apply(
        arf(to=BOX, recipient=delivery.email, message_id=delivery.message_id)
    )

    assert (applied.matched, applied.complaints) == (1, 1)
    delivery.refresh_from_db()
    assert delivery.complained_at is not None
    assert sitewide(delivery.email).reason == Suppression.Reason.COMPLAINT
    own = Suppression.objects.get(owner=alice, email__iexact=delivery.email)
    assert own.reason == Suppression.Reason.UNSUBSCRIBED
    delivery.client.refresh_from_db()
    assert delivery.client.is_unsubscribed


def test_a_report_read_twice_changes_nothing_the_second_time(sent):
    delivery = sent()
    raw = dsn(
        to=verp.return_path(delivery.pk), recipient=delivery.email, status="4.2.2"
    )

    first = apply(raw)
    second = apply(raw)

    assert (first.soft, second.soft, second.repeated) == (1, 0, 1)
    assert BounceEvent.objects.count() == 1


def test_a_report_that_matches_nothing_is_kept_and_counted(db):
    applied = apply(dsn(to=BOX, recipient="stranger@example.org"))

    assert (applied.matched, applied.unmatched) == (0, 1)
    event = BounceEvent.objects.get()
    assert (event.kind, event.email, event.delivery) == (
        "unmatched",
        "stranger@example.org",
        None,
    )


def test_something_that_is_no_report_is_kept_as_unmatched(db):
    applied = apply(b"Subject: Out of office\r\n\r\nI am away.\r\n")

    assert applied.unmatched == 1
    assert BounceEvent.objects.get().kind == "unmatched"


def test_site_wide_suppressions_are_added_by_the_audiences_service(sent):
    delivery = sent()
    spy = mock.patch.object(
        audience_services,
        "suppression_get_or_add",
        wraps=audience_services.suppression_get_or_add,
    )

    with spy as called:
        apply(dsn(to=verp.return_path(delivery.pk), recipient=delivery.email))

    called.assert_called_once_with(
        email=delivery.email,
        owner=None,
        reason=Suppression.Reason.HARD_BOUNCE,
        source=mock.ANY,
    )
    assert sitewide(delivery.email).reason == Suppression.Reason.HARD_BOUNCE


def test_suppress_sitewide_is_true_only_for_a_new_entry(db):
    assert processing.suppress_sitewide("New@Example.org", "hard_bounce", "x" * 300)
    assert not processing.suppress_sitewide("new@example.org", "complaint", "again")

    entry = Suppression.objects.get()
    assert (entry.email, entry.owner, entry.reason) == (
        "New@Example.org",
        None,
        "hard_bounce",
    )
    assert len(entry.source) == 255


def test_an_entry_written_by_someone_else_meanwhile_is_not_new(db):
    Suppression.objects.create(email="race@example.org", owner=None, reason="manual")
    real_first = QuerySet.first
    looks = []

    def first_misses_once(self):
        # The look-up before the INSERT does not see the other writer's row yet.
        looks.append(self.model)
        return None if len(looks) == 1 else real_first(self)

    with mock.patch.object(QuerySet, "first", first_misses_once):
        added = processing.suppress_sitewide("race@example.org", "hard_bounce", "t")

    assert added is False
    assert len(looks) == 2  # the INSERT failed on the unique index, then re-read
    assert Suppression.objects.get().reason == "manual"


def test_a_bounce_for_an_address_that_is_no_address_suppresses_nothing(sent):
    # The MTA rewrote the recipient into something that is not an address: the
    # delivery is still matched by its token, but nothing can be suppressed.
    delivery = sent()

    applied = apply(dsn(to=verp.return_path(delivery.pk), recipient="postmaster@nodot"))

    assert (applied.matched, applied.hard, applied.suppressed) == (1, 1, 0)
    delivery.refresh_from_db()
    assert delivery.bounce_type == "hard"
    assert not Suppression.objects.exists()


@pytest.mark.parametrize("listed_by_hand", [False, True])
@pytest.mark.parametrize("client_deleted", [False, True])
def test_a_complaint_leaves_one_own_unsubscribe_of_that_owner(
    sent, alice, client_deleted, listed_by_hand
):
    delivery = sent("angry@example.org")
    client = delivery.client
    newsletter = ClientListFactory(owner=alice, members=[client])
    if listed_by_hand:  # the owner had suppressed the address already
        audience_services.suppression_add(email="ANGRY@example.org", owner=alice)
    if client_deleted:
        client.delete()
    where = f"complaint about delivery {delivery.pk}"

    apply(arf(to=BOX, recipient=delivery.email, message_id=delivery.message_id))

    own = Suppression.objects.get(owner=alice)
    assert own.email.lower() == "angry@example.org"
    assert (own.reason, own.source) == (Suppression.Reason.UNSUBSCRIBED, where)
    assert sitewide(delivery.email).reason == Suppression.Reason.COMPLAINT
    if not client_deleted:
        client.refresh_from_db()
        assert client.is_unsubscribed
        assert list(
            Subscription.objects.filter(client_list=newsletter).values_list(
                "status", flat=True
            )
        ) == [Subscription.Status.UNSUBSCRIBED]


def test_a_complaint_after_the_client_changed_address_suppresses_both(sent, alice):
    delivery = sent("old-address@example.org")
    client = delivery.client
    client.email = "new-address@example.org"
    client.save(update_fields=["email"])

    apply(arf(to=BOX, recipient=delivery.email, message_id=delivery.message_id))

    assert sorted(
        Suppression.objects.filter(owner=alice).values_list("email", "reason")
    ) == [
        ("new-address@example.org", "unsubscribed"),
        ("old-address@example.org", "unsubscribed"),
    ]
