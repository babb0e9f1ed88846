"""Who serves what: the lease on a run (``Attempt``) and the claims on its recipients
(``Delivery`` rows).

Both are taken with a conditional UPDATE whose row count decides the owner, so two
workers (threads, processes or clusters) never serve the same recipient of a run.
A lease or a claim runs out when its worker stops renewing it (it died); the next
tick or a helper then takes the work over.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cachalot.utils import is_cachable
from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.db.models import F, Q
from django.db.models.options import Options
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.db import column
from apps.mailings.conf import NODE_NAME_LIMIT, engine
from apps.mailings.locking import retry_when_locked
from apps.mailings.models import Attempt, Client, Delivery, Mailing
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
    attributes: dict[str, Any] | None = None


@contextmanager
def ledger_cursor() -> Iterator[CursorWrapper]:
    """A cursor for the engine's own SQL on the ledger (``Delivery``).

    cachalot parses every raw write for the tables it must invalidate, listing all
    models each time: a quarter of a run's coordinating thread. The ledger is one of
    its uncachable tables (nothing caches it, there is nothing to invalidate), so
    these statements are marked as the ORM's own, which cachalot does not parse.
    Should the ledger ever become cachable, they are parsed again."""
    if is_cachable(Delivery._meta.db_table):
        with connection.cursor() as cursor:
            yield cursor
        return
    previous = getattr(connection, "raw", True)
    setattr(connection, "raw", False)  # noqa: B010 (cachalot's flag, not Django's)
    try:
        with connection.cursor() as cursor:
            yield cursor
    finally:
        setattr(connection, "raw", previous)  # noqa: B010


def _claim_sql() -> tuple[str, str]:
    """The claim's two statements, written out once: built through the ORM they cost
    more CPU per batch than the database took to run them.

    The UPDATE claims the first `size` free rows after the cursor and re-checks the
    claim condition on each row it changes; the SELECT then reads the rows this worker
    holds after the cursor with their clients, which are exactly those (the rows it
    held before count as free for it, so they are among the first `size`)."""
    quote = connection.ops.quote_name
    d, c = Delivery._meta, Client._meta

    def col(meta: Options[Any], name: str, alias: str = "") -> str:
        return f"{alias}{quote(column(meta, name))}"

    free = (
        f"({col(d, 'outcome')} = %s OR ({col(d, 'outcome')} = %s AND "
        f"({col(d, 'claimed_until')} < %s OR {col(d, 'claimed_by')} = %s)))"
    )
    # PostgreSQL: candidates another claim has locked are skipped, not waited for.
    # The candidates are a materialised CTE: as an IN (subquery … LIMIT) PostgreSQL
    # may evaluate the subquery again per row and claim past the LIMIT.
    skip_locked = connection.features.has_select_for_update_skip_locked
    lock = " FOR UPDATE SKIP LOCKED" if skip_locked else ""
    materialized = "MATERIALIZED " if connection.vendor == "postgresql" else ""
    table, pk = quote(d.db_table), col(d, "id")
    claim = (
        f"WITH candidates AS {materialized}(SELECT {pk} FROM {table} "  # noqa: S608
        f"WHERE {col(d, 'attempt')} = %s AND {pk} > %s AND {free} "
        f"ORDER BY {pk} LIMIT %s{lock}) "
        f"UPDATE {table} SET {col(d, 'outcome')} = %s, {col(d, 'claimed_by')} = %s, "
        f"{col(d, 'claimed_until')} = %s "
        f"WHERE {pk} IN (SELECT {pk} FROM candidates) AND {free}"
    )
    read = (
        f"SELECT {col(d, 'id', 'd.')}, {col(d, 'tries', 'd.')}, "  # noqa: S608
        f"{col(d, 'client', 'd.')}, {col(c, 'email', 'c.')}, "
        f"{col(c, 'full_name', 'c.')}, {col(c, 'unsubscribe_token', 'c.')}, "
        f"{col(c, 'is_unsubscribed', 'c.')}, {col(c, 'attributes', 'c.')} "
        f"FROM {table} d "
        f"LEFT JOIN {quote(c.db_table)} c ON {col(c, 'id', 'c.')} = "
        f"{col(d, 'client', 'd.')} WHERE {col(d, 'attempt', 'd.')} = %s "
        f"AND {col(d, 'id', 'd.')} > %s AND {col(d, 'outcome', 'd.')} = %s "
        f"AND {col(d, 'claimed_by', 'd.')} = %s ORDER BY {col(d, 'id', 'd.')} "
        "LIMIT %s"
    )
    return claim, read


_SQL: dict[str, tuple[str, str]] = {}  # per database vendor


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
    if connection.vendor not in _SQL:
        _SQL[connection.vendor] = _claim_sql()
    claim, read = _SQL[connection.vendor]
    adapt = connection.ops.adapt_datetimefield_value
    now = timezone.now()
    free = [Outcome.PENDING, Outcome.CLAIMED, adapt(now), worker]
    until = adapt(now + timedelta(seconds=lease_seconds()))
    with ledger_cursor() as cursor:
        cursor.execute(
            claim,
            [attempt_id, after, *free, size, Outcome.CLAIMED, worker, until, *free],
        )
        if not cursor.rowcount:
            return []
        cursor.execute(read, [attempt_id, after, Outcome.CLAIMED, worker, size])
        return [
            Claimed(
                pk, tries, client, email, name, token, _bool(unsubscribed), _json(attrs)
            )
            for pk, tries, client, email, name, token, unsubscribed, attrs in cursor
        ]


def _json(value: object) -> dict[str, Any] | None:
    # A raw cursor gives the JSON text (SQLite, and PostgreSQL as Django sets it up).
    if isinstance(value, str | bytes):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def _bool(value: object) -> bool | None:
    # SQLite returns booleans as 0 and 1.
    return None if value is None else bool(value)


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
    """Why a run must stop now (mailing deleted, disabled or paused, owner
    blocked, its sender address not verified or not the owner's)."""
    row = (
        Mailing.objects.filter(pk=mailing_id)
        .values_list(
            "is_enabled",
            "owner__is_blocked",
            "sender_id",
            "sender__verified_at",
            "sender__owner_id",
            "owner_id",
            "is_paused",
        )
        .first()
    )
    if row is None:
        return _("The mailing was deleted.")
    enabled, blocked, sender_id, verified_at, sender_owner_id, owner_id, paused = row
    if not enabled:
        return _("Stopped: the mailing was disabled.")
    if blocked:
        return _("Stopped: the owner is blocked.")
    if sender_id is not None and (verified_at is None or sender_owner_id != owner_id):
        return _("Stopped: the sender address is not verified.")
    if paused:
        return _("Stopped: the owner paused the mailing.")
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
