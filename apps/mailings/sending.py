"""The sending engine: runs of mailings, their per-recipient ledger, and SMTP.

The engine reads around django-cachalot (``cachalot_disabled``): claims and leases
must see the database as it is now; its writes still invalidate the cache for the
web pages.

One run of a mailing is one ``Attempt`` with one ``Delivery`` row per recipient.

* Who runs an attempt is decided by a *lease* on the attempt row, taken and renewed
  with a conditional UPDATE (``lease_expires_at`` in the past or our own name). A
  worker that dies stops renewing; once the lease expires the next scheduler tick
  resumes the attempt where it stopped.
* Each recipient is *claimed* before sending (a conditional UPDATE from ``pending``,
  its row count deciding the owner; ``select_for_update(skip_locked=True)`` as well
  on PostgreSQL) and its outcome is committed right after the server answered. A
  recipient already served is never served again; after a crash at most the one
  message in flight can go out twice.
* The mailing's scheduled slot is claimed the same way (UPDATE … WHERE next_run_at =
  the value we read), so two clusters ticking at once start one run, not two. A
  partial unique index keeps at most one unfinished attempt per mailing.
* SMTP goes through ``smtplib`` with ``EMAIL_TIMEOUT`` on every call, one connection
  for the whole run, reconnects and bounded retries with back-off for 4xx, timeouts
  and dropped connections; 5xx fails that recipient only. When the server stays
  unreachable the run stops at once (circuit breaker), its attempt is marked
  ``failure`` and the unserved recipients stay pending for the next tick.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import smtplib
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from itertools import batched

from cachalot.api import cachalot_disabled
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.mailings import compose, emails, scheduling
from apps.mailings.models import Attempt, Delivery, Mailing
from apps.mailings.services import attempt_created

log = logging.getLogger(__name__)

Outcome = Delivery.Outcome
REPLY_LIMIT = 500
# This many recipients deferred (4xx) one after another mean the server defers all.
DEFERRALS_BEFORE_BREAKING = 3


# --- settings -------------------------------------------------------------------


def lease_seconds() -> int:
    return max(5, min(60, int(getattr(settings, "MAILSHOT_LEASE_SECONDS", 60))))


def batch_size() -> int:
    return max(1, int(getattr(settings, "MAILSHOT_BATCH_SIZE", 100)))


# One SMTP connection per this many messages per second of MAILSHOT_SEND_RATE.
MESSAGES_PER_SECOND_PER_CONNECTION = 10
# A manager's disable or block is seen within this long (plus one message in flight
# per connection).
STOP_CHECK_SECONDS = 0.5
# Outcomes are written in one transaction at least this often: after a SIGKILL at
# most the messages accepted in this window (plus those in flight) go out again.
FLUSH_SECONDS = 0.02
# The lease and the claims are renewed this often (None: a third of the lease).
RENEW_SECONDS: float | None = None


def smtp_connections(rate: float = 0) -> int:
    """SMTP connections one worker opens at most (MAILSHOT_SMTP_CONNECTIONS), fewer
    when a low send rate would leave them idle."""
    count = max(1, int(getattr(settings, "MAILSHOT_SMTP_CONNECTIONS", 4)))
    if rate and rate > 0:
        count = min(count, math.ceil(rate / MESSAGES_PER_SECOND_PER_CONNECTION))
    return max(1, count)


def new_worker_id() -> str:
    node = getattr(settings, "MAILSHOT_NODE_NAME", "") or socket.gethostname()
    return f"{node[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def short(text: str, limit: int = REPLY_LIMIT) -> str:
    """A reply as people read it: one line, printable, at most `limit` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def decode_reply(code: int, reply: bytes | str) -> str:
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", errors="replace")
    return short(f"{code} {reply}" if code and code > 0 else reply)


# --- SMTP -----------------------------------------------------------------------


class ServerUnavailable(Exception):
    """The mail server could not be reached, timed out or answered garbage."""


class LeaseLost(Exception):
    """Another worker took the run over while this one was waiting on the server."""


class Deferred(Exception):
    """The server answered, but kept deferring this recipient (4xx) for now."""


class _Temporary(Exception):
    def __init__(self, reply: str, *, drop: bool = False) -> None:
        super().__init__(reply)
        self.reply = reply
        self.drop = drop


class _Permanent(Exception):
    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


def envelope_address(address: str) -> str:
    """The address as plain SMTP can carry it: an internationalised domain in
    punycode. Raises UnicodeError for a non-ASCII local part."""
    local, _at, domain = address.strip().rpartition("@")
    local.encode("ascii")
    return f"{local}@{domain.encode('idna').decode('ascii')}"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code > 0:
        return decode_reply(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, TimeoutError | socket.timeout) or (
        # smtplib reports a read timeout as a disconnection.
        isinstance(exc, smtplib.SMTPServerDisconnected) and "timed out" in str(exc)
    ):
        return short(_("The mail server did not answer in time."))
    if isinstance(exc, ConnectionRefusedError):
        return short(_("The mail server refused the connection."))
    if isinstance(exc, smtplib.SMTPConnectError | smtplib.SMTPResponseException):
        return short(_("The mail server gave an unreadable reply."))
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return short(_("The mail server closed the connection."))
    return short(f"{type(exc).__name__}: {exc}")


class SMTPSession:
    """One SMTP connection reused for a whole run, reopened when it drops."""

    def __init__(
        self,
        *,
        retries: int | None = None,
        backoff: float | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.host = settings.EMAIL_HOST
        self.port = int(settings.EMAIL_PORT)
        self.timeout = float(getattr(settings, "EMAIL_TIMEOUT", None) or 10)
        self.username = getattr(settings, "EMAIL_HOST_USER", "")
        self.password = getattr(settings, "EMAIL_HOST_PASSWORD", "")
        self.use_tls = getattr(settings, "EMAIL_USE_TLS", False)
        self.use_ssl = getattr(settings, "EMAIL_USE_SSL", False)
        self.retries = (
            retries
            if retries is not None
            else int(getattr(settings, "MAILSHOT_SMTP_RETRIES", 3))
        )
        self.backoff = (
            backoff
            if backoff is not None
            else float(getattr(settings, "MAILSHOT_SMTP_BACKOFF", 1.0))
        )
        # Set by the engine when the run stops (breaker, lease lost, disabled): a
        # back-off is cut short and no further retry is made.
        self.cancelled = threading.Event()
        self.sleep = sleep or (lambda seconds: self.cancelled.wait(seconds))
        self.conn: smtplib.SMTP | None = None

    def heartbeat(self) -> None:
        """Called before every retry: stop retrying once the run was stopped."""
        if self.cancelled.is_set():
            raise LeaseLost

    def _open(self) -> smtplib.SMTP:
        cls = smtplib.SMTP_SSL if self.use_ssl else smtplib.SMTP
        conn = cls(self.host, self.port, timeout=self.timeout)
        try:
            conn.ehlo_or_helo_if_needed()
            if self.use_tls and not self.use_ssl:
                conn.starttls()
                conn.ehlo()
            if self.username:
                conn.login(self.username, self.password)
        except BaseException:
            conn.close()
            raise
        return conn

    def _drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
        self.conn = None

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (smtplib.SMTPException, OSError):
                pass
        self._drop()

    def _reset(self) -> None:
        try:
            if self.conn is not None:
                self.conn.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    @staticmethod
    def _check(code: int, reply: bytes, ok: tuple[int, ...]) -> None:
        if code in ok:
            return
        text = decode_reply(code, reply)
        if 500 <= code < 600:
            raise _Permanent(text)
        if 400 <= code < 500:
            # 421: the server is closing the channel.
            raise _Temporary(text, drop=code == 421)
        raise _Temporary(
            text or _("The mail server gave an unreadable reply."), drop=True
        )

    def _send_once(self, sender: str, recipient: str, data: bytes) -> str:
        if self.conn is None:
            self.conn = self._open()
        code, reply = self.conn.mail(sender)
        self._check(code, reply, (250,))
        code, reply = self.conn.rcpt(recipient)
        self._check(code, reply, (250, 251))
        try:
            code, reply = self.conn.data(data)
        except smtplib.SMTPDataError as exc:  # DATA itself refused (not 354)
            code, reply = exc.smtp_code, exc.smtp_error
        self._check(code, reply, (250,))
        return decode_reply(code, reply)

    def send(self, sender: str, recipient: str, data: bytes) -> tuple[str, str]:
        """(outcome, reply) for one recipient after bounded retries.

        Raises Deferred when a live server kept answering 4xx for this recipient,
        ServerUnavailable when it could not be reached or talked to.
        """
        last = ""
        deferred = False
        for try_number in range(self.retries + 1):
            if try_number:
                self.sleep(self.backoff * 2 ** (try_number - 1))
                self.heartbeat()
            try:
                return Outcome.SENT, self._send_once(sender, recipient, data)
            except _Permanent as exc:
                self._reset()
                return Outcome.FAILED, exc.reply
            except _Temporary as exc:
                last = exc.reply
                deferred = not exc.drop
                self._drop() if exc.drop else self._reset()
            except (smtplib.SMTPException, OSError) as exc:
                # Connecting, greeting, STARTTLS or login went wrong (even with a
                # 5xx, e.g. bad credentials: that is no reason to fail recipients),
                # or the connection broke.
                last = _describe(exc)
                deferred = False
                self._drop()
        if deferred:
            raise Deferred(last)
        raise ServerUnavailable(last)


class Throttle:
    """At most `rate` messages per second (0 = unlimited), shared by the threads of
    one worker."""

    def __init__(self, rate: float, sleep: Callable[[float], None] = time.sleep):
        self.interval = 1.0 / rate if rate and rate > 0 else 0.0
        self.sleep = sleep
        self.next_at = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            at = max(now, self.next_at)
            self.next_at = at + self.interval
        if at > now:
            self.sleep(at - now)


# --- results --------------------------------------------------------------------


@dataclass
class RunResult:
    attempt_id: int | None
    status: str
    finished: bool
    total: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    pending: int = 0
    server_response: str = ""
    out_of_time: bool = False  # stopped by its time budget; the rest is pending

    @property
    def ok(self) -> bool:
        return self.status in (Attempt.Status.SUCCESS, Attempt.Status.PARTIAL)

    def summary(self) -> str:
        return _(
            "Attempt #%(id)s: %(status)s — %(sent)d sent, %(failed)d failed, "
            "%(skipped)d skipped, %(pending)d pending of %(total)d. %(reply)s"
        ) % {
            "id": self.attempt_id,
            "status": self.status or _("in progress"),
            "sent": self.sent,
            "failed": self.failed,
            "skipped": self.skipped,
            "pending": self.pending,
            "total": self.total,
            "reply": self.server_response,
        }


class CannotRun(Exception):
    """A readable reason why a mailing cannot be sent now."""


# --- starting runs --------------------------------------------------------------


def mailing_is_due(mailing: Mailing, now: datetime) -> bool:
    return (
        mailing.is_enabled
        and not mailing.owner.is_blocked
        and mailing.status != Mailing.Status.FINISHED
        and mailing.next_run_at is not None
        and mailing.start_at <= now < mailing.end_at
        and mailing.next_run_at <= now
    )


def open_attempt(mailing_id: int) -> Attempt | None:
    return Attempt.objects.filter(
        mailing_id=mailing_id, finished_at__isnull=True
    ).first()


def _create_attempt(*, mailing: Mailing, worker: str, now: datetime) -> Attempt:
    """A new attempt leased to `worker`, with its recipients inserted in batches
    straight from the mailing's client list (never all in memory)."""
    attempt = Attempt.objects.create(
        mailing=mailing,
        attempted_at=now,
        lease_owner=worker,
        lease_expires_at=now + timedelta(seconds=lease_seconds()),
    )
    attempt_created(attempt=attempt)
    clients = (
        mailing.clients.order_by("pk")
        .values_list("pk", "email")
        .iterator(chunk_size=batch_size() * 10)
    )
    total = 0
    for chunk in batched(clients, batch_size() * 10):
        Delivery.objects.bulk_create(
            [
                Delivery(attempt=attempt, client_id=pk, email=email)
                for pk, email in chunk
            ]
        )
        total += len(chunk)
    Attempt.objects.filter(pk=attempt.pk).update(total_count=total)
    attempt.total_count = total
    return attempt


def _open_or_create(*, mailing: Mailing, worker: str, now: datetime) -> Attempt | None:
    existing = open_attempt(mailing.pk)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return _create_attempt(mailing=mailing, worker=worker, now=now)
    except IntegrityError:
        # Another worker opened one at the same moment (one open attempt per mailing).
        return open_attempt(mailing.pk)


@cachalot_disabled()
def start_due_run(
    mailing_id: int, *, worker: str, now: datetime | None = None
) -> Attempt | None:
    """Claim the mailing's scheduled slot and return the attempt that serves it.

    The slot is claimed by moving ``next_run_at`` on with a conditional UPDATE; whoever
    changes the row owns the run. An attempt left unfinished by an unreachable server
    is completed by this slot instead of opening a second one.
    """
    now = now or timezone.now()
    with transaction.atomic():
        mailing = Mailing.objects.select_related("owner").filter(pk=mailing_id).first()
        if mailing is None or not mailing_is_due(mailing, now):
            return None
        following = scheduling.next_run_after(
            periodicity=mailing.periodicity,
            start_at=mailing.start_at,
            end_at=mailing.end_at,
            scheduled=mailing.next_run_at,
            now=now,
        )
        won = Mailing.objects.filter(
            pk=mailing.pk, next_run_at=mailing.next_run_at, is_enabled=True
        ).update(next_run_at=following, status=Mailing.Status.RUNNING, updated_at=now)
        if not won:
            return None
        attempt = _open_or_create(mailing=mailing, worker=worker, now=now)
    if following is not None:
        transaction.on_commit(lambda: schedule_mailing_start(mailing.pk, following))
    return attempt


@cachalot_disabled()
def start_manual_run(
    mailing_id: int, *, worker: str, now: datetime | None = None
) -> Attempt:
    """Send now: a run outside the schedule, or the unfinished one resumed."""
    now = now or timezone.now()
    mailing = Mailing.objects.select_related("owner").filter(pk=mailing_id).first()
    if mailing is None:
        raise CannotRun(_("There is no mailing #%(id)s.") % {"id": mailing_id})
    if not mailing.is_enabled:
        raise CannotRun(_("Mailing #%(id)s is disabled.") % {"id": mailing_id})
    if mailing.owner.is_blocked:
        raise CannotRun(
            _("The owner of mailing #%(id)s is blocked.") % {"id": mailing_id}
        )
    with transaction.atomic():
        changes: dict = {"status": Mailing.Status.RUNNING, "updated_at": now}
        if mailing.periodicity == Mailing.Periodicity.ONCE:
            changes["next_run_at"] = None  # a "once" mailing has now run
        Mailing.objects.filter(pk=mailing.pk).exclude(
            status=Mailing.Status.FINISHED
        ).update(**changes)
        attempt = _open_or_create(mailing=mailing, worker=worker, now=now)
    if attempt is None:  # pragma: no cover (closed between two queries)
        raise CannotRun(_("Mailing #%(id)s could not be started.") % {"id": mailing_id})
    return attempt


# --- running an attempt ---------------------------------------------------------


def _lease_filter(worker: str, now: datetime) -> Q:
    return (
        Q(lease_expires_at__isnull=True)
        | Q(lease_expires_at__lt=now)
        | Q(lease_owner=worker)
    )


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


def release_lease(attempt_id: int, worker: str) -> None:
    Attempt.objects.filter(pk=attempt_id, lease_owner=worker).update(
        lease_owner="", lease_expires_at=None
    )


def _claimable(now: datetime) -> Q:
    # Pending, or claimed by a worker that died (its claim ran out with its lease).
    return Q(outcome=Outcome.PENDING) | Q(
        outcome=Outcome.CLAIMED, claimed_until__lt=now
    )


def claim_batch(
    attempt_id: int, worker: str, size: int, *, after: int = 0
) -> list[Delivery]:
    """Claim up to `size` unserved recipients of the attempt for `worker`.

    The UPDATE's condition is re-checked by the database row by row, so two
    workers claiming at once get disjoint sets; on PostgreSQL the candidates are
    also row-locked with SKIP LOCKED so they do not queue behind each other.
    """
    now = timezone.now()
    candidates = Delivery.objects.filter(attempt_id=attempt_id, pk__gt=after).filter(
        _claimable(now)
    )
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        ids = list(candidates.order_by("pk").values_list("pk", flat=True)[:size])
        if not ids:
            return []
        Delivery.objects.filter(pk__in=ids).filter(_claimable(now)).update(
            outcome=Outcome.CLAIMED,
            claimed_by=worker,
            claimed_until=now + timedelta(seconds=lease_seconds()),
        )
    return list(
        Delivery.objects.filter(
            attempt_id=attempt_id, outcome=Outcome.CLAIMED, claimed_by=worker
        ).order_by("pk")
    )


# The fields a sender needs, read with the claim in the same query.
_ROW_FIELDS = {
    "pk": "pk",
    "tries": "tries",
    "client_id": "client_id",
    "email": "client__email",
    "full_name": "client__full_name",
    "token": "client__unsubscribe_token",
    "unsubscribed": "client__is_unsubscribed",
}


def _claim_next(attempt_id: int, worker: str, size: int, *, after: int) -> list[dict]:
    """Claim the next `size` unserved recipients after `after` (by id) with one
    conditional UPDATE, and read them with their clients in one query.

    Rows this worker already holds count as free for it (a resumed run), which is
    safe because the cursor only moves forward: a row in flight is never returned
    twice.
    """
    now = timezone.now()
    free = _claimable(now) | Q(outcome=Outcome.CLAIMED, claimed_by=worker)
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
        .values_list(*_ROW_FIELDS.values())
    )
    return [dict(zip(_ROW_FIELDS, row, strict=True)) for row in rows]


@dataclass(slots=True)
class _Outcome:
    pk: int
    outcome: str  # sent, failed, skipped, or "defer" (back to pending, one try)
    reply: str
    message_id: str = ""
    at: datetime | None = None
    tried: int = 0


def _write_outcomes(worker: str, outcomes: list[_Outcome]) -> None:
    """Record a batch of outcomes in one transaction (one statement on PostgreSQL).

    Only rows this worker still holds are written, as with one UPDATE per row.
    """
    final = [o for o in outcomes if o.outcome != "defer"]
    table = connection.ops.quote_name(Delivery._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        for o in outcomes:
            if o.outcome == "defer":
                _defer(o.pk, worker, o.reply)
        if not final:
            return
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} AS d SET outcome = v.outcome, "  # noqa: S608
                "server_response = v.reply, message_id = v.mid, processed_at = v.at, "
                "tries = d.tries + v.tried FROM (SELECT unnest(%s::bigint[]) AS id, "
                "unnest(%s::varchar[]) AS outcome, unnest(%s::varchar[]) AS reply, "
                "unnest(%s::varchar[]) AS mid, unnest(%s::timestamptz[]) AS at, "
                "unnest(%s::int[]) AS tried) AS v "
                "WHERE d.id = v.id AND d.outcome = %s AND d.claimed_by = %s",
                [
                    [o.pk for o in final],
                    [o.outcome for o in final],
                    [short(o.reply) for o in final],
                    [o.message_id for o in final],
                    [o.at for o in final],
                    [o.tried for o in final],
                    Outcome.CLAIMED,
                    worker,
                ],
            )
        else:
            adapt = connection.ops.adapt_datetimefield_value
            cursor.executemany(
                f"UPDATE {table} SET outcome = %s, server_response = %s, "  # noqa: S608
                "message_id = %s, processed_at = %s, tries = tries + %s "
                "WHERE id = %s AND outcome = %s AND claimed_by = %s",
                [
                    (
                        o.outcome,
                        short(o.reply),
                        o.message_id,
                        adapt(o.at),
                        o.tried,
                        o.pk,
                        Outcome.CLAIMED,
                        worker,
                    )
                    for o in final
                ],
            )


def _defer(pk: int, worker: str, reply: str) -> None:
    """Back to pending for a later run, one try counted."""
    Delivery.objects.filter(pk=pk, outcome=Outcome.CLAIMED, claimed_by=worker).update(
        outcome=Outcome.PENDING,
        claimed_by="",
        claimed_until=None,
        server_response=short(reply),
        tries=F("tries") + 1,
    )


def _unclaim(attempt_id: int, worker: str) -> None:
    Delivery.objects.filter(
        attempt_id=attempt_id, outcome=Outcome.CLAIMED, claimed_by=worker
    ).update(outcome=Outcome.PENDING, claimed_by="", claimed_until=None)


def _stop_reason(mailing_id: int) -> str | None:
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


def _skip_the_rest(attempt_id: int, reason: str, worker: str = "") -> None:
    """Skip the unserved: pending, ours, and claims whose worker died. Recipients
    another live worker holds are skipped by that worker (it sees the same stop)."""
    Delivery.objects.filter(attempt_id=attempt_id).filter(
        _claimable(timezone.now()) | Q(outcome=Outcome.CLAIMED, claimed_by=worker)
    ).update(
        outcome=Outcome.SKIPPED,
        server_response=short(reason),
        processed_at=timezone.now(),
    )


def _max_tries() -> int:
    return int(getattr(settings, "MAILSHOT_MAX_TRIES_PER_RECIPIENT", 5))


def _close_out(
    attempt_id: int, *, breaker: str, stop: str, last_reply: str
) -> RunResult:
    """Summarise the ledger on the attempt; finish it when nobody is left."""
    counts = dict(
        Delivery.objects.filter(attempt_id=attempt_id)
        .values_list("outcome")
        .annotate(n=Count("pk"))
        .values_list("outcome", "n")
    )
    sent = counts.get(Outcome.SENT, 0)
    failed = counts.get(Outcome.FAILED, 0)
    skipped = counts.get(Outcome.SKIPPED, 0)
    pending = counts.get(Outcome.PENDING, 0) + counts.get(Outcome.CLAIMED, 0)
    total = sent + failed + skipped + pending
    finished = pending == 0 and not breaker
    if breaker:
        status = Attempt.Status.FAILURE
        reply = _(
            "The mail server is unreachable (%(reason)s). Left for the next run: "
            "%(pending)d."
        ) % {"reason": breaker, "pending": pending}
    elif not finished:
        status = ""
        reply = ""
    else:
        if failed == 0 and not stop:
            status = Attempt.Status.SUCCESS
        elif sent == 0:
            status = Attempt.Status.FAILURE
        else:
            status = Attempt.Status.PARTIAL
        reply = stop or last_reply
        if failed:
            last_failure = (
                Delivery.objects.filter(attempt_id=attempt_id, outcome=Outcome.FAILED)
                .order_by("-processed_at")
                .values_list("server_response", flat=True)
                .first()
            )
            reply = _("%(failed)d of %(total)d refused; last: %(reply)s") % {
                "failed": failed,
                "total": total,
                "reply": last_failure,
            }
    now = timezone.now()
    changes = {
        "sent_count": sent,
        "failed_count": failed,
        "skipped_count": skipped,
        "total_count": total,
    }
    changes["status"] = status  # "" while unfinished: in progress again
    if reply:
        changes["server_response"] = short(reply)
    if finished or pending == 0:
        changes["finished_at"] = now
        finished = True
    # Several workers may serve one attempt: whoever sees it done first closes it.
    closed = Attempt.objects.filter(pk=attempt_id, finished_at__isnull=True).update(
        **changes
    )
    if finished and closed:
        mailing_id = Attempt.objects.values_list("mailing_id", flat=True).get(
            pk=attempt_id
        )
        Mailing.objects.filter(
            pk=mailing_id, next_run_at__isnull=True, status=Mailing.Status.RUNNING
        ).update(status=Mailing.Status.FINISHED, updated_at=now)
    return RunResult(
        attempt_id=attempt_id,
        status=status,
        finished=finished,
        total=total,
        sent=sent,
        failed=failed,
        skipped=skipped,
        pending=pending,
        server_response=short(reply),
    )


class _Pipeline:
    """One worker serving one attempt: claims, SMTP and the ledger, overlapped.

    * The calling thread owns the database: it claims batches (one conditional
      UPDATE each), renews the lease and the claims, re-checks the mailing and its
      owner every STOP_CHECK_SECONDS, and writes outcomes in batches (one
      transaction at least every FLUSH_SECONDS).
    * Up to `connections` sender threads each hold one SMTP connection and send the
      claimed recipients handed to them through a queue; they never touch the
      database, so nothing waits on a commit between two messages.

    The in-flight window — claimed and handed over but not yet recorded — is at
    most two batches plus one message per connection. A stop (disable, block,
    breaker, lost lease, time budget) lets each connection finish the message it
    is on; the rest of the window goes back to pending untouched. After a SIGKILL,
    the messages accepted but not yet recorded (those of the last FLUSH_SECONDS,
    plus one per connection) are the only ones that can go out twice.
    """

    def __init__(
        self,
        attempt: Attempt,
        *,
        worker: str,
        renew: Callable[[], bool],
        progress: Callable[[str], None] | None,
        max_seconds: float | None,
        rate: float,
        session: SMTPSession | None,
    ) -> None:
        self.attempt_id = attempt.pk
        self.mailing_id = attempt.mailing_id
        self.worker = worker
        self.renew = renew
        self.progress = progress
        self.max_seconds = max_seconds
        self.session = session
        self.connections = 1 if session is not None else smtp_connections(rate)
        message = attempt.mailing.message
        self.template = compose.MessageTemplate(
            subject=message.subject, body=message.body
        )
        sender = settings.DEFAULT_FROM_EMAIL
        self.envelope_from = parseaddr(sender)[1] or sender
        self.halt = threading.Event()
        self.throttle = Throttle(rate, sleep=self.halt.wait)
        self.jobs: queue.Queue = queue.Queue()
        self.results: queue.SimpleQueue = queue.SimpleQueue()
        self.threads: list[threading.Thread] = []
        # Senders stop before this monotonic time unless the claims were renewed:
        # a stalled coordinator never lets them send a recipient whose claim ran out.
        self.valid_until = time.monotonic() + lease_seconds() * 0.9
        self.breaker = self.stop = self.last_reply = ""
        self.lost = self.out_of_time = False
        self.error: BaseException | None = None

    # --- sender threads ------------------------------------------------------

    def _start_sender(self) -> None:
        session = self.session or SMTPSession()
        session.cancelled = self.halt
        thread = threading.Thread(
            target=self._sender, args=(session,), daemon=True, name="mailshot-smtp"
        )
        self.threads.append(thread)
        thread.start()

    def _sender(self, session: SMTPSession) -> None:
        try:
            while (row := self.jobs.get()) is not None:
                try:
                    self.results.put(self._send_one(session, row))
                except BaseException as exc:  # a bug: stop the run, report it
                    self.halt.set()
                    self.results.put(("error", row, exc))
        finally:
            session.close()

    def _send_one(self, session: SMTPSession, row: dict) -> tuple:
        if self.halt.is_set() or time.monotonic() > self.valid_until:
            return ("unsent", row, "")
        message_id = emails.make_message_id(
            attempt_id=self.attempt_id, delivery_id=row["pk"]
        )
        try:
            rcpt = envelope_address(row["email"])
        except UnicodeError:
            reply = _("This address needs SMTPUTF8, which is not used.")
            return (Outcome.FAILED, row, reply, message_id, timezone.now())
        data = self.template.build(
            emails.Recipient(
                email=row["email"],
                full_name=row["full_name"],
                unsubscribe_token=row["token"],
            ),
            message_id,
            rcpt,
        )
        self.throttle.wait()
        if self.halt.is_set() or time.monotonic() > self.valid_until:
            return ("unsent", row, "")
        try:
            outcome, reply = session.send(self.envelope_from, rcpt, data)
        except ServerUnavailable as exc:
            self.halt.set()  # no other connection should keep trying either
            return ("breaker", row, str(exc) or _("no reply"))
        except LeaseLost:
            return ("unsent", row, "")
        except Deferred as exc:
            return ("deferred", row, str(exc), message_id, timezone.now())
        return (outcome, row, reply, message_id, timezone.now())

    # --- the coordinating thread -----------------------------------------------

    def run(self) -> None:
        batch = batch_size()
        cursor = outstanding = batches = deferred_in_a_row = 0
        exhausted = False  # nothing left to claim, or no more claims wanted
        buffer: list[_Outcome] = []
        first_buffered = 0.0
        started = renewed = time.monotonic()
        checked = -math.inf
        try:
            while True:
                now = time.monotonic()
                every = (
                    RENEW_SECONDS if RENEW_SECONDS is not None else lease_seconds() / 3
                )
                if not self.halt.is_set() and now - renewed >= every:
                    if self.renew():
                        self.valid_until = now + lease_seconds() * 0.9
                    else:
                        self.lost = True  # another worker took over: leave it be
                        self.halt.set()
                    renewed = now
                if (
                    batches
                    and not exhausted
                    and self.max_seconds is not None
                    and now - started > self.max_seconds
                ):
                    # Out of time: claim no more, finish what was handed out.
                    self.out_of_time = exhausted = True
                hungry = (
                    not exhausted
                    and not self.halt.is_set()
                    and self.jobs.qsize() < batch
                )
                # The mailing and its owner are re-checked before every claim and
                # every STOP_CHECK_SECONDS in between.
                if not self.halt.is_set() and (
                    hungry or now - checked >= STOP_CHECK_SECONDS
                ):
                    checked = now
                    self.stop = _stop_reason(self.mailing_id) or ""
                    if self.stop:
                        self.halt.set()
                        hungry = False
                if hungry:
                    rows = _claim_next(
                        self.attempt_id, self.worker, batch, after=cursor
                    )
                    if not rows:
                        exhausted = True
                    else:
                        cursor = rows[-1]["pk"]
                        batches += 1
                        if not buffer:
                            first_buffered = time.monotonic()
                        for row in rows:
                            if row["client_id"] is None:
                                buffer.append(
                                    self._skip(row, _("The client was deleted."))
                                )
                            elif row["unsubscribed"]:
                                buffer.append(self._skip(row, _("Unsubscribed.")))
                            else:
                                self.jobs.put(row)
                                outstanding += 1
                        while len(self.threads) < min(self.connections, batches):
                            self._start_sender()
                # Collect what the senders finished (without waiting while the
                # queue still wants feeding).
                try:
                    if hungry and not exhausted:
                        item = self.results.get_nowait()
                    else:
                        item = self.results.get(
                            timeout=FLUSH_SECONDS if buffer else 0.05
                        )
                except queue.Empty:
                    item = None
                while item is not None:
                    outstanding -= 1
                    if not buffer:
                        first_buffered = time.monotonic()
                    deferred_in_a_row = self._handle(item, buffer, deferred_in_a_row)
                    try:
                        item = self.results.get_nowait()
                    except queue.Empty:
                        item = None
                done = outstanding == 0 and (exhausted or self.halt.is_set())
                if buffer and (
                    done
                    or len(buffer) >= batch
                    or time.monotonic() - first_buffered >= FLUSH_SECONDS
                ):
                    self._flush(buffer)
                    buffer = []
                if done:
                    break
        except BaseException:
            self.halt.set()
            self._stop_senders()
            # Keep what was sent on record even though the run failed.
            while True:
                try:
                    item = self.results.get_nowait()
                except queue.Empty:
                    break
                self._handle(item, buffer, 0)
            try:
                self._flush(buffer)
            except Exception:
                log.exception("Attempt %s: outcomes not recorded", self.attempt_id)
            raise
        self._stop_senders()
        if self.error is not None:
            raise self.error

    def _stop_senders(self) -> None:
        for _thread in self.threads:
            self.jobs.put(None)
        for thread in self.threads:
            thread.join()
        self.threads = []

    def _skip(self, row: dict, reason: str) -> _Outcome:
        return _Outcome(row["pk"], Outcome.SKIPPED, reason, at=timezone.now())

    def _handle(self, item: tuple, buffer: list[_Outcome], in_a_row: int) -> int:
        kind, row = item[0], item[1]
        if kind in (Outcome.SENT, Outcome.FAILED):
            reply, message_id, at = item[2], item[3], item[4]
            buffer.append(_Outcome(row["pk"], kind, reply, message_id, at, 1))
            if kind == Outcome.SENT:
                self.last_reply = reply
            return 0
        if kind == "deferred":
            if self.halt.is_set():
                return in_a_row  # the run is stopping: back to pending, uncounted
            reply, message_id, at = item[2], item[3], item[4]
            in_a_row += 1
            if row["tries"] + 1 < _max_tries():
                buffer.append(_Outcome(row["pk"], "defer", reply))
                if in_a_row >= DEFERRALS_BEFORE_BREAKING:
                    # It defers everyone: stop instead of hammering.
                    self.breaker = self.breaker or reply
                    self.halt.set()
            else:  # deferred on every run so far: give up on this one
                buffer.append(
                    _Outcome(row["pk"], Outcome.FAILED, reply, message_id, at, 1)
                )
            return in_a_row
        if kind == "breaker":
            self.breaker = self.breaker or item[2]
        elif kind == "error" and self.error is None:
            self.error = item[2]
        return in_a_row  # "unsent": stays claimed, put back to pending at the end

    def _flush(self, buffer: list[_Outcome]) -> None:
        if not buffer:
            return
        _write_outcomes(self.worker, buffer)
        if self.progress:
            for o in buffer:
                if o.outcome != "defer":
                    self.progress(o.outcome)


def _serve(
    attempt_id: int,
    *,
    worker: str,
    renew: Callable[[], bool],
    progress: Callable[[str], None] | None,
    max_seconds: float | None,
    rate: float | None,
    session: SMTPSession | None,
) -> RunResult:
    attempt = Attempt.objects.select_related("mailing__message").get(pk=attempt_id)
    pipeline = _Pipeline(
        attempt,
        worker=worker,
        renew=renew,
        progress=progress,
        max_seconds=max_seconds,
        rate=rate if rate is not None else getattr(settings, "MAILSHOT_SEND_RATE", 0),
        session=session,
    )
    try:
        pipeline.run()
        if pipeline.stop:
            _skip_the_rest(attempt_id, pipeline.stop, worker)
    finally:
        _unclaim(attempt_id, worker)
        result = _close_out(
            attempt_id,
            breaker=pipeline.breaker,
            stop=pipeline.stop,
            last_reply=pipeline.last_reply,
        )
    result.out_of_time = pipeline.out_of_time and not result.finished
    if pipeline.breaker:
        log.warning("Attempt %s stopped: %s", attempt_id, result.server_response)
    return result


def run_attempt(
    attempt_id: int,
    *,
    worker: str | None = None,
    progress: Callable[[str], None] | None = None,
    max_seconds: float | None = None,
    rate: float | None = None,
    session: SMTPSession | None = None,
    on_start: Callable[[int], None] | None = None,
) -> RunResult:
    """Serve the attempt's unserved recipients while we hold its lease.

    Returns early (leaving the rest pending, lease released) when `max_seconds` is
    spent, when the lease was lost, or when the server is unreachable. `on_start`
    is called once the lease is ours (the cluster queues helpers there).
    """
    worker = worker or new_worker_id()
    with cachalot_disabled():
        if not take_lease(attempt_id, worker):
            attempt = Attempt.objects.filter(pk=attempt_id).first()
            return RunResult(
                attempt_id=attempt_id,
                status=attempt.status if attempt else "",
                finished=bool(attempt and attempt.is_finished),
                server_response=_("Another worker is running this attempt.")
                if attempt and not attempt.is_finished
                else "",
            )
        try:
            if on_start:
                on_start(attempt_id)
            return _serve(
                attempt_id,
                worker=worker,
                renew=lambda: renew_lease(attempt_id, worker),
                progress=progress,
                max_seconds=max_seconds,
                rate=rate,
                session=session,
            )
        finally:
            release_lease(attempt_id, worker)


def renew_claims(attempt_id: int, worker: str) -> bool:
    """A helper's heartbeat: extend its claims while the attempt is still open."""
    until = timezone.now() + timedelta(seconds=lease_seconds())
    Delivery.objects.filter(
        attempt_id=attempt_id, outcome=Outcome.CLAIMED, claimed_by=worker
    ).update(claimed_until=until)
    return Attempt.objects.filter(pk=attempt_id, finished_at__isnull=True).exists()


def assist_attempt(
    attempt_id: int,
    *,
    worker: str | None = None,
    max_seconds: float | None = None,
    rate: float | None = None,
) -> RunResult | None:
    """Help serve an attempt another worker leads (scale-out).

    A helper takes no lease: it claims batches of the same attempt like the
    leading worker does (the claim's row count decides who owns a recipient), keeps
    its claims alive, and closes the attempt if it happens to serve the last
    recipient. Returns None when there was nothing to help with.
    """
    worker = worker or new_worker_id()
    with cachalot_disabled():
        if not Attempt.objects.filter(pk=attempt_id, finished_at__isnull=True).exists():
            return None
        return _serve(
            attempt_id,
            worker=worker,
            renew=lambda: renew_claims(attempt_id, worker),
            progress=None,
            max_seconds=max_seconds,
            rate=rate,
            session=None,
        )


# --- entry points (tasks and commands call these) ---------------------------------


def run_mailing_now(
    mailing_id: int, *, progress_factory=None, rate: float | None = None, **kwargs
) -> RunResult:
    """Send a mailing now: start a run, or resume its unfinished one."""
    worker = new_worker_id()
    attempt = start_manual_run(mailing_id, worker=worker)
    progress = progress_factory(attempt) if progress_factory else None
    return run_attempt(
        attempt.pk, worker=worker, progress=progress, rate=rate, **kwargs
    )


def run_due_mailing(mailing_id: int, **kwargs) -> RunResult | None:
    """Run the mailing if its scheduled time has come (and nobody else took it)."""
    worker = new_worker_id()
    attempt = start_due_run(mailing_id, worker=worker)
    if attempt is None:
        return None
    return run_attempt(attempt.pk, worker=worker, **kwargs)


def resume_attempt(attempt_id: int, **kwargs) -> RunResult:
    return run_attempt(attempt_id, **kwargs)


def due_mailing_ids(now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(
        Mailing.objects.filter(
            is_enabled=True,
            owner__is_blocked=False,
            start_at__lte=now,
            end_at__gt=now,
            next_run_at__lte=now,
        )
        .exclude(status=Mailing.Status.FINISHED)
        .order_by("next_run_at")
        .values_list("pk", flat=True)
    )


def resumable_attempt_ids(now: datetime | None = None) -> list[int]:
    """Unfinished attempts nobody holds: their worker died or the server was down.

    Those of a mailing disabled (or an owner blocked) meanwhile are included too:
    resuming them skips the rest and closes them.
    """
    now = now or timezone.now()
    return list(
        Attempt.objects.filter(finished_at__isnull=True)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .order_by("attempted_at")
        .values_list("pk", flat=True)
    )


def finish_expired_mailings(now: datetime | None = None) -> int:
    """Mailings whose window closed without a run pending are finished."""
    now = now or timezone.now()
    return (
        Mailing.objects.filter(end_at__lte=now)
        .exclude(status=Mailing.Status.FINISHED)
        .exclude(
            pk__in=Attempt.objects.filter(finished_at__isnull=True).values("mailing_id")
        )
        .update(status=Mailing.Status.FINISHED, next_run_at=None, updated_at=now)
    )


@dataclass
class TickResult:
    started: list[int]
    resumed: list[int]
    finished: int

    def summary(self) -> str:
        return _(
            "Due mailings: %(started)d; interrupted runs resumed: %(resumed)d; "
            "mailings finished: %(finished)d."
        ) % {
            "started": len(self.started),
            "resumed": len(self.resumed),
            "finished": self.finished,
        }


@cachalot_disabled()
def tick(
    *,
    run: Callable[[str, int], None] | None = None,
    now: datetime | None = None,
) -> TickResult:
    """One scheduler tick: start due mailings and resume runs whose lease expired.

    `run(kind, id)` decides how the work is done (queued by the cluster's tick, or
    inline from cron); each mailing is handled on its own so one failure does not
    stop the rest.
    """
    now = now or timezone.now()
    due = due_mailing_ids(now)
    resumable = resumable_attempt_ids(now)
    resumed_mailings = set(
        Attempt.objects.filter(pk__in=resumable).values_list("mailing_id", flat=True)
    )
    for attempt_id in resumable:
        _safely(run, "attempt", attempt_id)
    for mailing_id in due:
        if mailing_id not in resumed_mailings:
            _safely(run, "mailing", mailing_id)
    finished = finish_expired_mailings(now)
    return TickResult(started=due, resumed=resumable, finished=finished)


def _run_inline(kind: str, object_id: int) -> None:
    if kind == "attempt":
        resume_attempt(object_id)
    else:
        run_due_mailing(object_id)


def _safely(run, kind: str, object_id: int) -> None:
    try:
        (run or _run_inline)(kind, object_id)
    except Exception:
        log.exception("Could not run %s %s", kind, object_id)


# --- scheduling the start of a mailing ---------------------------------------------


SCHEDULE_NAME = "mailshot: send due mailings"


def schedule_name_for(mailing_id: int) -> str:
    return f"mailshot: mailing {mailing_id}"


def schedule_mailing_start(mailing_id: int, when: datetime | None) -> None:
    """A one-off django-q2 schedule at `when`, so the run starts within the scheduler's
    ~30 s poll of its time rather than waiting for the next minute tick."""
    from django_q.models import Schedule

    if when is None:
        Schedule.objects.filter(name=schedule_name_for(mailing_id)).delete()
        return
    Schedule.objects.update_or_create(
        name=schedule_name_for(mailing_id),
        defaults={
            "func": "apps.mailings.tasks.run_due_mailing",
            # Schedule args are stored as repr text: pass the id only (PITFALLS).
            "args": repr(int(mailing_id)),
            "schedule_type": Schedule.ONCE,
            "repeats": -1,
            "next_run": when,
        },
    )


def plan_upcoming_starts(now: datetime | None = None, within: int = 120) -> int:
    """One-off schedules for runs due in the next `within` seconds, so a mailing whose
    `next_run_at` was set without the save hook (fixtures, a queryset update, the
    next period of a recurring mailing) still starts within ~30 s of its time."""
    now = now or timezone.now()
    upcoming = (
        Mailing.objects.filter(
            is_enabled=True,
            owner__is_blocked=False,
            next_run_at__gt=now,
            next_run_at__lte=now + timedelta(seconds=within),
        )
        .exclude(status=Mailing.Status.FINISHED)
        .values_list("pk", "next_run_at")
    )
    count = 0
    for mailing_id, when in upcoming:
        schedule_mailing_start(mailing_id, when)
        count += 1
    return count


def ensure_tick_schedule() -> None:
    """The every-minute tick (idempotent): due mailings and expired leases."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": "apps.mailings.tasks.send_due_mailings",
            "args": None,
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
