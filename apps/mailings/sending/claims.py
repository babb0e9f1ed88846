"""Who serves what: the lease on a run (``Attempt``) and the claims on its recipients
(``Delivery`` rows).

Both are taken with a conditional UPDATE whose row count decides the owner, so two
workers (threads, processes or clusters) never serve the same recipient of a run.
A lease or a claim runs out when its worker stops renewing it (it died); the next
tick or a helper then takes the work over.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.mailings.conf import NODE_NAME_LIMIT, engine
from apps.mailings.locking import retry_when_locked
from apps.mailings.models import Attempt, Delivery, Mailing
from apps.mailings.sending.transport import short

Outcome = Delivery.Outcome


def lease_seconds() -> int:
    return engine().lease_seconds


def new_worker_id() -> str:
    node = engine().node_name or socket.gethostname()[:NODE_NAME_LIMIT]
    return f"{node}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# --- the lease on a run -----------------------------------------------------------


def _lease_filter(worker: str, now: datetime) -> Q:
    return (
        Q(lease_expires_at__isnull=True)
        | Q(lease_expires_at__lt=now)
        | Q(lease_owner=worker)
    )


@retry_when_locked
def take_lease(attempt_id: int, worker: str) -> bool:
    now = timezone.now()
    return bool(
        Attempt.objects.filter(pk=attempt_id, finished_at__isnull=True)
        .filter(_lease_filter(worker, now))
        .update(
            lease_owner=worker,
            lease_expires_at=now + timedelta(seconds=lease_seconds()),
        )
    )


@retry_when_locked
def renew_lease(attempt_id: int, worker: str) -> bool:
    until = timezone.now() + timedelta(seconds=lease_seconds())
    if not Attempt.objects.filter(pk=attempt_id, lease_owner=worker).update(
        lease_expires_at=until
    ):
        return False
    Delivery.objects.filter(
        attempt_id=attempt_id, outcome=Outcome.CLAIMED, claimed_by=worker
    ).update(claimed_until=until)
    return True


@retry_when_locked
def release_lease(attempt_id: int, worker: str) -> None:
    Attempt.objects.filter(pk=attempt_id, lease_owner=worker).update(
        lease_owner="", lease_expires_at=None
    )


@retry_when_locked
def renew_claims(attempt_id: int, worker: str) -> bool:
    """A helper's heartbeat: extend its claims while the attempt is still open."""
    until = timezone.now() + timedelta(seconds=lease_seconds())
    Delivery.objects.filter(
        attempt_id=attempt_id, outcome=Outcome.CLAIMED, claimed_by=worker
    ).update(claimed_until=until)
    return Attempt.objects.filter(pk=attempt_id, finished_at__isnull=True).exists()


# --- claims on recipients ---------------------------------------------------------


def claimable(now: datetime) -> Q:
    # Pending, or claimed by a worker that died (its claim ran out with its lease).
    return Q(outcome=Outcome.PENDING) | Q(
        outcome=Outcome.CLAIMED, claimed_until__lt=now
    )


@dataclass(frozen=True, slots=True)
class Claimed:
    """A recipient this worker now holds, with what a sender needs to build and send
    its message (read with the claim, in one query)."""

    pk: int
    tries: int
    client_id: int | None  # None: the client was deleted after the run started
    email: str | None
    full_name: str | None
    token: str | None
    unsubscribed: bool | None


# Claimed's fields, in order, as lookups on Delivery.
_CLAIMED_LOOKUPS = (
    "pk",
    "tries",
    "client_id",
    "client__email",
    "client__full_name",
    "client__unsubscribe_token",
    "client__is_unsubscribed",
)


@retry_when_locked
def claim_next(attempt_id: int, worker: str, size: int, *, after: int) -> list[Claimed]:
    """Claim the next `size` unserved recipients after `after` (by id) with one
    conditional UPDATE, and read them with their clients in one query.

    The UPDATE re-checks the claim condition row by row, so two workers claiming at
    once get disjoint sets; on PostgreSQL the candidates are also row-locked with
    SKIP LOCKED so they do not queue behind each other. Rows this worker already
    holds count as free for it (a resumed run), which is safe because the cursor
    only moves forward: a row in flight is never returned twice.
    """
    now = timezone.now()
    free = claimable(now) | Q(outcome=Outcome.CLAIMED, claimed_by=worker)
    candidates = Delivery.objects.filter(attempt_id=attempt_id, pk__gt=after).filter(
        free
    )
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        ids = list(candidates.order_by("pk").values_list("pk", flat=True)[:size])
        if not ids:
            return []
        Delivery.objects.filter(pk__in=ids).filter(free).update(
            outcome=Outcome.CLAIMED,
            claimed_by=worker,
            claimed_until=now + timedelta(seconds=lease_seconds()),
        )
    rows = (
        Delivery.objects.filter(pk__in=ids, outcome=Outcome.CLAIMED, claimed_by=worker)
        .order_by("pk")
        .values_list(*_CLAIMED_LOOKUPS)
    )
    return [Claimed(*row) for row in rows]


def defer(pk: int, worker: str, reply: str) -> None:
    """Back to pending for a later run, one try counted."""
    Delivery.objects.filter(pk=pk, outcome=Outcome.CLAIMED, claimed_by=worker).update(
        outcome=Outcome.PENDING,
        claimed_by="",
        claimed_until=None,
        server_response=short(reply),
        tries=F("tries") + 1,
    )


@retry_when_locked
def unclaim(attempt_id: int, worker: str) -> None:
    Delivery.objects.filter(
        attempt_id=attempt_id, outcome=Outcome.CLAIMED, claimed_by=worker
    ).update(outcome=Outcome.PENDING, claimed_by="", claimed_until=None)


def stop_reason(mailing_id: int) -> str | None:
    """Why a run must stop now (mailing deleted or disabled, owner blocked)."""
    row = (
        Mailing.objects.filter(pk=mailing_id)
        .values_list("is_enabled", "owner__is_blocked")
        .first()
    )
    if row is None:
        return _("The mailing was deleted.")
    if not row[0]:
        return _("Stopped: the mailing was disabled.")
    if row[1]:
        return _("Stopped: the owner is blocked.")
    return None


@retry_when_locked
def skip_the_rest(attempt_id: int, reason: str, worker: str = "") -> None:
    """Skip the unserved: pending, ours, and claims whose worker died. Recipients
    another live worker holds are skipped by that worker (it sees the same stop)."""
    Delivery.objects.filter(attempt_id=attempt_id).filter(
        claimable(timezone.now()) | Q(outcome=Outcome.CLAIMED, claimed_by=worker)
    ).update(
        outcome=Outcome.SKIPPED,
        server_response=short(reason),
        processed_at=timezone.now(),
    )
