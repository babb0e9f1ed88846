"""What a bounce or complaint changes: the delivery's record and who is suppressed.

``apply(report, source)`` runs in one transaction and is idempotent: every finding
is a ``BounceEvent`` unique by (report fingerprint, address), so a report processed
twice (the mailbox flag was not set before a crash) changes nothing the second time.

Matching a finding to a delivery, in order:

1. the VERP token of the address the report was sent to (``bounces+<token>@…``);
2. a returned ``Message-ID`` that Mailshot wrote;
3. the recipient's most recent delivery that was sent in the last 30 days.

Outcomes:

* hard bounce — the delivery gets ``bounced_at``/``bounce_type=hard`` and the
  address a site-wide suppression (reason ``hard_bounce``);
* soft bounce — ``bounce_type=soft``; the third soft bounce of an address within
  30 days suppresses it site-wide (reason ``hard_bounce``, source says why);
* complaint — ``complained_at``, a site-wide suppression (reason ``complaint``), and
  the recipient is unsubscribed from that owner (an owner suppression, reason
  ``unsubscribed``, which the owner cannot undo);
* nothing matched — kept as an ``unmatched`` event and counted, never dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from apps.audiences import services as audience_services
from apps.audiences.models import Suppression
from apps.deliverability.models import BounceEvent
from apps.deliverability.reports import Failure, Report
from apps.mailings import services
from apps.mailings.models import Delivery

logger = logging.getLogger(__name__)

RECENT = timedelta(days=30)
SOFT_LIMIT = 3


@dataclass(slots=True)
class Applied:
    matched: int = 0
    unmatched: int = 0
    hard: int = 0
    soft: int = 0
    complaints: int = 0
    suppressed: int = 0
    repeated: int = 0  # findings already recorded (a report read twice)

    def add(self, other: Applied) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def is_matched(self) -> bool:
        return self.matched > 0


def _by_message_id(message_ids: tuple[str, ...]) -> Delivery | None:
    if not message_ids:
        return None
    forms = {mid.strip() for mid in message_ids} | {
        f"<{mid.strip().strip('<>')}>" for mid in message_ids
    }
    return (
        Delivery.objects.select_related("attempt__mailing")
        .filter(message_id__in=forms)
        .order_by("-pk")
        .first()
    )


def _by_recipient(email: str) -> Delivery | None:
    if not email:
        return None
    since = timezone.now() - RECENT
    return (
        Delivery.objects.select_related("attempt__mailing")
        .annotate(lower=Lower("email"))
        .filter(
            lower=email.lower(),
            outcome=Delivery.Outcome.SENT,
            processed_at__gte=since,
        )
        .order_by("-processed_at", "-pk")
        .first()
    )


def match(report: Report, email: str) -> Delivery | None:
    """The delivery a finding about `email` is about (see the module)."""
    if report.verp_delivery_id is not None:
        found = (
            Delivery.objects.select_related("attempt__mailing")
            .filter(pk=report.verp_delivery_id)
            .first()
        )
        if found is not None and (not email or found.email.lower() == email.lower()):
            return found
        if found is not None and len(report.failures) <= 1:
            # One failure reported for a token: the MTA rewrote the address
            # (an alias, a forward); the token is the better witness.
            return found
    found = _by_message_id(report.message_ids)
    if found is not None and (not email or found.email.lower() == email.lower()):
        return found
    return _by_recipient(email)


def suppress_sitewide(email: str, reason: str, source: str) -> bool:
    """A site-wide suppression of `email` (idempotent); True if it is new.

    Written by the audiences service like every other entry. An address that is
    no valid address (an MTA rewrote the recipient) is not suppressed: no client
    can have it, and the event keeps what the report said."""
    try:
        _entry, created = audience_services.suppression_get_or_add(
            email=email, owner=None, reason=reason, source=source
        )
    except ValidationError:
        logger.warning("not suppressing %r: not an e-mail address", email)
        return False
    return created


def unsubscribe_from_owner(delivery: Delivery, source: str) -> None:
    """The recipient complained: nothing more from that owner, ever (their own
    unsubscribe, which the owner cannot undo), recorded by the service of a
    recipient's own unsubscribe — for the delivered address even when the client
    has been deleted since, or has another address now."""
    client = delivery.client
    if client is not None:
        services.client_unsubscribe(client=client, source=source)
    if client is None or client.email.lower() != delivery.email.lower():
        audience_services.recipient_unsubscribed(
            owner=delivery.attempt.mailing.owner, email=delivery.email, source=source
        )


def _record(
    report: Report,
    *,
    kind: str,
    email: str,
    failure: Failure | None,
    source: str,
    delivery: Delivery | None,
) -> bool:
    """The event of one finding; False when this report already recorded it."""
    if BounceEvent.objects.filter(fingerprint=report.fingerprint, email=email).exists():
        return False
    try:
        with transaction.atomic():
            BounceEvent.objects.create(
                kind=kind,
                email=email,
                status=failure.status if failure else "",
                diagnostic=failure.diagnostic if failure else "",
                source=source,
                fingerprint=report.fingerprint,
                delivery=delivery,
            )
    except IntegrityError:
        return False
    return True


def _bounce(report: Report, failure: Failure, source: str) -> Applied:
    applied = Applied()
    delivery = match(report, failure.email)
    email = failure.email or (delivery.email.lower() if delivery else "")
    kind = failure.bounce_type if delivery else BounceEvent.Kind.UNMATCHED
    if not _record(
        report,
        kind=kind,
        email=email,
        failure=failure,
        source=source,
        delivery=delivery,
    ):
        applied.repeated += 1
        return applied
    if delivery is None:
        applied.unmatched += 1
        return applied
    applied.matched += 1
    now = timezone.now()
    bounce_type = failure.bounce_type
    updates: dict[str, object] = {"bounced_at": now}
    # A hard bounce is never downgraded by a later soft one.
    if bounce_type == "hard" or delivery.bounce_type != "hard":
        updates["bounce_type"] = bounce_type
    Delivery.objects.filter(pk=delivery.pk).update(**updates)
    where = f"delivery {delivery.pk}: {failure.status or '?'} {failure.diagnostic}"
    if bounce_type == "hard":
        applied.hard += 1
        applied.suppressed += suppress_sitewide(
            email, Suppression.Reason.HARD_BOUNCE, where
        )
    else:
        applied.soft += 1
        recent = BounceEvent.objects.filter(
            email=email,
            kind=BounceEvent.Kind.SOFT,
            received_at__gte=now - RECENT,
        ).count()
        if recent >= SOFT_LIMIT:
            applied.suppressed += suppress_sitewide(
                email,
                Suppression.Reason.HARD_BOUNCE,
                f"{recent} soft bounces in 30 days; last {where}",
            )
    return applied


def _complaint(report: Report, source: str) -> Applied:
    applied = Applied()
    candidates = list(report.complainants) or [""]
    for email in candidates:
        delivery = match(report, email)
        address = email or (delivery.email.lower() if delivery else "")
        kind = BounceEvent.Kind.COMPLAINT if delivery else BounceEvent.Kind.UNMATCHED
        if not _record(
            report,
            kind=kind,
            email=address,
            failure=None,
            source=source,
            delivery=delivery,
        ):
            applied.repeated += 1
            continue
        if delivery is None:
            applied.unmatched += 1
            continue
        applied.matched += 1
        applied.complaints += 1
        Delivery.objects.filter(pk=delivery.pk).update(complained_at=timezone.now())
        where = f"complaint about delivery {delivery.pk}"
        applied.suppressed += suppress_sitewide(
            address, Suppression.Reason.COMPLAINT, where
        )
        unsubscribe_from_owner(delivery, where)
    return applied


@transaction.atomic
def apply(report: Report, *, source: str) -> Applied:
    """Record what `report` says (see the module); one transaction."""
    if report.kind == "complaint":
        return _complaint(report, source)
    applied = Applied()
    if report.kind == "bounce":
        for failure in report.failures:
            applied.add(_bounce(report, failure, source))
        return applied
    # Neither a bounce nor a complaint (an auto-reply, spam to the bounce box).
    if _record(
        report,
        kind=BounceEvent.Kind.UNMATCHED,
        email="",
        failure=None,
        source=source,
        delivery=None,
    ):
        applied.unmatched += 1
    else:
        applied.repeated += 1
    return applied
