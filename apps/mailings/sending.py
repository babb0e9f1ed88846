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
import os
import smtplib
import socket
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

from apps.mailings import emails, scheduling
from apps.mailings.models import Attempt, Client, Delivery, Mailing
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


def new_worker_id() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


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
        sleep: Callable[[float], None] = time.sleep,
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
        self.sleep = sleep
        # Called before every retry; the engine renews its lease there, so a long
        # series of timeouts cannot let another worker take the same recipient.
        self.heartbeat: Callable[[], None] = lambda: None
        self.conn: smtplib.SMTP | None = None

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
    """At most `rate` messages per second (0 = unlimited)."""

    def __init__(self, rate: float, sleep: Callable[[float], None] = time.sleep):
        self.interval = 1.0 / rate if rate and rate > 0 else 0.0
        self.sleep = sleep
        self.next_at = 0.0

    def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if self.next_at > now:
            self.sleep(self.next_at - now)
            now = self.next_at
        self.next_at = now + self.interval


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


def _record(delivery: Delivery, worker: str, outcome: str, reply: str) -> None:
    Delivery.objects.filter(
        pk=delivery.pk, outcome=Outcome.CLAIMED, claimed_by=worker
    ).update(
        outcome=outcome,
        server_response=short(reply),
        message_id=delivery.message_id,
        processed_at=timezone.now(),
        tries=F("tries") + (1 if delivery.message_id else 0),
    )


def _defer(delivery: Delivery, worker: str, reply: str) -> None:
    """Back to pending for a later run, one try counted."""
    Delivery.objects.filter(
        pk=delivery.pk, outcome=Outcome.CLAIMED, claimed_by=worker
    ).update(
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


def _skip_the_rest(attempt_id: int, reason: str) -> None:
    Delivery.objects.filter(attempt_id=attempt_id).filter(
        Q(outcome=Outcome.PENDING) | Q(outcome=Outcome.CLAIMED)
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
    Attempt.objects.filter(pk=attempt_id).update(**changes)
    if finished:
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


def _send_to(
    session: SMTPSession,
    *,
    delivery: Delivery,
    client: Client,
    subject: str,
    body: str,
    envelope_from: str,
) -> tuple[str, str]:
    """Build and send one recipient's message: (outcome, reply).

    Raises ServerUnavailable or Deferred (see SMTPSession.send).
    """
    delivery.message_id = emails.make_message_id(
        attempt_id=delivery.attempt_id, delivery_id=delivery.pk
    )
    try:
        rcpt = envelope_address(client.email)
    except UnicodeError:
        return Outcome.FAILED, _("This address needs SMTPUTF8, which is not used.")
    message = emails.build_mailing_message(
        subject=subject,
        body=body,
        recipient=emails.Recipient(
            email=client.email,
            full_name=client.full_name,
            unsubscribe_token=client.unsubscribe_token,
        ),
        message_id=delivery.message_id,
        to_address=rcpt,
    )
    return session.send(envelope_from, rcpt, message.as_bytes())


def run_attempt(
    attempt_id: int,
    *,
    worker: str | None = None,
    progress: Callable[[str], None] | None = None,
    max_seconds: float | None = None,
    rate: float | None = None,
    session: SMTPSession | None = None,
) -> RunResult:
    """Serve the attempt's unserved recipients while we hold its lease.

    Returns early (leaving the rest pending, lease released) when `max_seconds` is
    spent, when the lease was lost, or when the server is unreachable.
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
        attempt = Attempt.objects.select_related("mailing__message").get(pk=attempt_id)
        mailing = attempt.mailing
        sender = settings.DEFAULT_FROM_EMAIL
        envelope_from = parseaddr(sender)[1] or sender
        subject, body = mailing.message.subject, mailing.message.body
        session = session or SMTPSession()
        throttle = Throttle(
            rate if rate is not None else getattr(settings, "MAILSHOT_SEND_RATE", 0)
        )
        started = time.monotonic()
        renewed = started

        def heartbeat() -> None:
            nonlocal renewed
            if not renew_lease(attempt_id, worker):
                raise LeaseLost
            renewed = time.monotonic()

        session.heartbeat = heartbeat
        breaker = stop = last_reply = ""
        out_of_time = lost = False
        cursor = 0  # recipients deferred in this run wait for the next one
        deferred_in_a_row = 0
        try:
            while not (breaker or stop or lost):
                batch = claim_batch(attempt_id, worker, batch_size(), after=cursor)
                if not batch:
                    break
                clients = Client.objects.in_bulk(
                    [d.client_id for d in batch if d.client_id]
                )
                for delivery in batch:
                    cursor = delivery.pk
                    if time.monotonic() - renewed > lease_seconds() / 3:
                        if not renew_lease(attempt_id, worker):
                            lost = True  # another worker took over: leave it be
                            break
                        renewed = time.monotonic()
                    stop = _stop_reason(mailing.pk) or ""
                    if stop:
                        _skip_the_rest(attempt_id, stop)
                        break
                    client = clients.get(delivery.client_id)
                    if client is None:
                        outcome, reply = Outcome.SKIPPED, _("The client was deleted.")
                    elif client.is_unsubscribed:
                        outcome, reply = Outcome.SKIPPED, _("Unsubscribed.")
                    else:
                        throttle.wait()
                        try:
                            outcome, reply = _send_to(
                                session,
                                delivery=delivery,
                                client=client,
                                subject=subject,
                                body=body,
                                envelope_from=envelope_from,
                            )
                        except ServerUnavailable as exc:
                            breaker = str(exc) or _("no reply")
                            break
                        except LeaseLost:
                            lost = True
                            break
                        except Deferred as exc:
                            deferred_in_a_row += 1
                            if delivery.tries + 1 < _max_tries():
                                _defer(delivery, worker, str(exc))
                                if deferred_in_a_row >= DEFERRALS_BEFORE_BREAKING:
                                    # It defers everyone: stop instead of hammering.
                                    breaker = str(exc)
                                    break
                                continue
                            # Deferred on every run so far: give up on this one.
                            outcome, reply = Outcome.FAILED, str(exc)
                        else:
                            deferred_in_a_row = 0
                            last_reply = reply
                    _record(delivery, worker, outcome, reply)
                    if progress:
                        progress(outcome)
                if max_seconds is not None and time.monotonic() - started > max_seconds:
                    out_of_time = True
                    break
        finally:
            session.close()
            _unclaim(attempt_id, worker)
            result = _close_out(
                attempt_id, breaker=breaker, stop=stop, last_reply=last_reply
            )
            release_lease(attempt_id, worker)
        result.out_of_time = out_of_time and not result.finished
        if breaker:
            log.warning("Attempt %s stopped: %s", attempt_id, result.server_response)
        return result


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
