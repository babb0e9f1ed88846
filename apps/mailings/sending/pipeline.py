"""One worker serving one run: claims, SMTP and the ledger, overlapped.

* The calling thread (the coordinator) owns the database: it claims batches (one
  conditional UPDATE each), renews the lease and the claims, re-checks the mailing
  and its owner every STOP_CHECK_SECONDS, and writes outcomes in batches (one
  transaction at least every FLUSH_SECONDS).
* Up to `connections` sender threads each hold one SMTP connection and send the
  claimed recipients handed to them through a queue; they never touch the
  database, so nothing waits on a commit between two messages.

The in-flight window (claimed and handed over but not yet recorded) is at most two
batches plus one message per connection. A stop (disable, block, breaker, lost
lease, time budget) lets each connection finish the message it is on; the rest of
the window goes back to pending untouched. After a SIGKILL, the messages accepted
but not yet recorded (those of the last FLUSH_SECONDS, plus one per connection) are
the only ones that can go out twice.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from enum import StrEnum

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.deliverability import tracking, verp
from apps.mailings import compose, emails
from apps.mailings.conf import engine
from apps.mailings.models import Attempt
from apps.mailings.sending.claims import (
    Claimed,
    claim_next,
    skip_the_rest,
    stop_reason,
    unclaim,
)
from apps.mailings.sending.outcomes import (
    DEFER,
    OutcomeRecord,
    RunResult,
    close_out,
    write_outcomes,
)
from apps.mailings.sending.transport import (
    Deferred,
    LeaseLost,
    Outcome,
    ServerUnavailable,
    SMTPSession,
    Throttle,
    envelope_address,
)

log = logging.getLogger(__name__)

# One SMTP connection per this many messages per second of MAILSHOT_SEND_RATE.
MESSAGES_PER_SECOND_PER_CONNECTION = 10
# This many recipients deferred (4xx) one after another mean the server defers all.
DEFERRALS_BEFORE_BREAKING = 3
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
    count = engine().smtp_connections
    if rate > 0:
        count = min(count, math.ceil(rate / MESSAGES_PER_SECOND_PER_CONNECTION))
    return count


class Sent(StrEnum):
    """What a sender thread reports about one recipient."""

    SENT = Outcome.SENT
    FAILED = Outcome.FAILED
    DEFERRED = "deferred"  # the server kept answering 4xx
    UNSENT = "unsent"  # the run stopped first: back to pending, uncounted
    BREAKER = "breaker"  # the server is unreachable: the whole run stops
    ERROR = "error"  # a bug: the run stops and re-raises it


@dataclass(frozen=True, slots=True)
class Report:
    """A sender thread's report on one recipient, handed to the coordinator."""

    kind: Sent
    row: Claimed
    reply: str = ""
    message_id: str = ""
    at: datetime | None = None
    error: BaseException | None = None


class Pipeline:
    """The coordinator and its sender threads for one attempt (see the module)."""

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
        conf = engine()
        self.batch = conf.batch_size
        self.lease = conf.lease_seconds
        self.max_tries = conf.max_tries_per_recipient
        # Composed once per run: only the placeholders change per recipient.
        content, self.tracked = tracking.prepare_run(
            compose.content_of_mailing(attempt.mailing),
            attempt.mailing,
            attempt_id=attempt.pk,
        )
        self.template = compose.MessageTemplate(content)
        sender = settings.DEFAULT_FROM_EMAIL
        self.envelope_from = parseaddr(sender)[1] or sender
        # With MAILSHOT_BOUNCE_ADDRESS each delivery has its own envelope sender.
        self.verp = verp.bounce_address() is not None
        self.domain = emails.message_domain()
        self.halt = threading.Event()
        self.throttle = Throttle(rate, sleep=self.halt.wait)
        self.jobs: queue.Queue[Claimed | None] = queue.Queue()
        self.results: queue.SimpleQueue[Report] = queue.SimpleQueue()
        self.threads: list[threading.Thread] = []
        # Senders stop before this monotonic time unless the claims were renewed:
        # a stalled coordinator never lets them send a recipient whose claim ran out.
        self.valid_until = time.monotonic() + self.lease * 0.9
        # Why the run stopped, if it did, and the last accepting reply.
        self.breaker = self.stop = self.last_reply = ""
        self.lost = self.out_of_time = False
        self.error: BaseException | None = None
        # The coordinator's state.
        self.cursor = self.outstanding = self.batches = self.deferred_in_a_row = 0
        self.exhausted = False  # nothing left to claim, or no more claims wanted
        self.buffer: list[OutcomeRecord] = []
        self.first_buffered = 0.0
        self.started = self.renewed = time.monotonic()
        self.checked = -math.inf

    # --- sender threads ----------------------------------------------------------

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
                    self.results.put(Report(Sent.ERROR, row, error=exc))
        finally:
            session.close()

    def _may_send(self) -> bool:
        return not self.halt.is_set() and time.monotonic() <= self.valid_until

    def _send_one(self, session: SMTPSession, row: Claimed) -> Report:
        if not self._may_send():
            return Report(Sent.UNSENT, row)
        message_id = emails.make_message_id(
            attempt_id=self.attempt_id, delivery_id=row.pk, domain=self.domain
        )
        try:
            rcpt = envelope_address(row.email or "")
        except UnicodeError:
            refused = _("This address needs SMTPUTF8, which is not used.")
            return Report(Sent.FAILED, row, refused, message_id, timezone.now())
        data = self.template.build(
            emails.Recipient(
                email=row.email or "",
                full_name=row.full_name or "",
                unsubscribe_token=row.token or "",
                attributes=row.attributes or {},
            ),
            message_id,
            rcpt,
            (self.attempt_id, row.pk) if self.tracked else None,
        )
        self.throttle.wait()
        if not self._may_send():
            return Report(Sent.UNSENT, row)
        try:
            envelope_from = (
                verp.return_path(row.pk) or self.envelope_from
                if self.verp
                else self.envelope_from
            )
            reply = session.send(envelope_from, rcpt, data)
        except ServerUnavailable as exc:
            self.halt.set()  # no other connection should keep trying either
            return Report(Sent.BREAKER, row, str(exc) or _("no reply"))
        except LeaseLost:
            return Report(Sent.UNSENT, row)
        except Deferred as exc:
            return Report(Sent.DEFERRED, row, str(exc), message_id, timezone.now())
        return Report(Sent(reply.outcome), row, reply.text, message_id, timezone.now())

    def _stop_senders(self) -> None:
        for _thread in self.threads:
            self.jobs.put(None)
        for thread in self.threads:
            thread.join()
        self.threads = []

    # --- the coordinating thread ---------------------------------------------------

    def run(self) -> None:
        try:
            while not self._turn():
                pass
        except BaseException:
            self._abort()
            raise
        self._stop_senders()
        if self.error is not None:
            raise self.error

    def _turn(self) -> bool:
        """One turn of the coordinator; True once the run is over."""
        now = time.monotonic()
        self._renew_if_due(now)
        self._mind_the_budget(now)
        hungry = self._recheck_mailing(now, hungry=self._hungry())
        if hungry:
            self._claim_and_hand_out()
        # Without waiting while the queue still wants feeding.
        self._collect(wait=not hungry or self.exhausted)
        done = self.outstanding == 0 and (self.exhausted or self.halt.is_set())
        self._flush_if_due(force=done)
        return done

    def _renew_if_due(self, now: float) -> None:
        every = RENEW_SECONDS if RENEW_SECONDS is not None else self.lease / 3
        if self.halt.is_set() or now - self.renewed < every:
            return
        if self.renew():
            self.valid_until = now + self.lease * 0.9
        else:
            self.lost = True  # another worker took over: leave it be
            self.halt.set()
        self.renewed = now

    def _mind_the_budget(self, now: float) -> None:
        if (
            self.batches
            and not self.exhausted
            and self.max_seconds is not None
            and now - self.started > self.max_seconds
        ):
            # Out of time: claim no more, finish what was handed out.
            self.out_of_time = self.exhausted = True

    def _hungry(self) -> bool:
        return (
            not self.exhausted
            and not self.halt.is_set()
            and self.jobs.qsize() < self.batch
        )

    def _recheck_mailing(self, now: float, *, hungry: bool) -> bool:
        """The mailing and its owner are re-checked before every claim and every
        STOP_CHECK_SECONDS in between; returns whether to claim more."""
        if self.halt.is_set() or not (
            hungry or now - self.checked >= STOP_CHECK_SECONDS
        ):
            return hungry
        self.checked = now
        self.stop = stop_reason(self.mailing_id) or ""
        if self.stop:
            self.halt.set()
            return False
        return hungry

    def _claim_and_hand_out(self) -> None:
        rows = claim_next(self.attempt_id, self.worker, self.batch, after=self.cursor)
        if not rows:
            self.exhausted = True
            return
        self.cursor = rows[-1].pk
        self.batches += 1
        for row in rows:
            if row.client_id is None:
                self._skip(row, _("The client was deleted."))
            elif row.unsubscribed:
                self._skip(row, _("Unsubscribed."))
            else:
                self.jobs.put(row)
                self.outstanding += 1
        while len(self.threads) < min(self.connections, self.batches):
            self._start_sender()

    def _collect(self, *, wait: bool) -> None:
        """Take in what the senders finished."""
        try:
            if wait:
                timeout = FLUSH_SECONDS if self.buffer else 0.05
                report = self.results.get(timeout=timeout)
            else:
                report = self.results.get_nowait()
            while True:
                self.outstanding -= 1
                self._handle(report)
                report = self.results.get_nowait()
        except queue.Empty:
            pass

    def _handle(self, report: Report) -> None:
        kind = report.kind
        if kind in (Sent.SENT, Sent.FAILED):
            self._record(report, kind)
            if kind == Sent.SENT:
                self.last_reply = report.reply
            self.deferred_in_a_row = 0
        elif kind == Sent.DEFERRED:
            self._handle_deferral(report)
        elif kind == Sent.BREAKER:
            self.breaker = self.breaker or report.reply
        elif kind == Sent.ERROR and self.error is None:
            self.error = report.error
        # Sent.UNSENT: stays claimed, put back to pending at the end.

    def _handle_deferral(self, report: Report) -> None:
        if self.halt.is_set():
            return  # the run is stopping: back to pending, uncounted
        self.deferred_in_a_row += 1
        if report.row.tries + 1 >= self.max_tries:
            # Deferred on every run so far: give up on this one.
            self._record(report, Outcome.FAILED)
            return
        self._buffer(OutcomeRecord(report.row.pk, DEFER, report.reply))
        if self.deferred_in_a_row >= DEFERRALS_BEFORE_BREAKING:
            # It defers everyone: stop instead of hammering.
            self.breaker = self.breaker or report.reply
            self.halt.set()

    def _record(self, report: Report, outcome: str) -> None:
        self._buffer(
            OutcomeRecord(
                report.row.pk, outcome, report.reply, report.message_id, report.at, 1
            )
        )

    def _skip(self, row: Claimed, reason: str) -> None:
        self._buffer(OutcomeRecord(row.pk, Outcome.SKIPPED, reason, at=timezone.now()))

    def _buffer(self, record: OutcomeRecord) -> None:
        if not self.buffer:
            self.first_buffered = time.monotonic()
        self.buffer.append(record)

    def _flush_if_due(self, *, force: bool) -> None:
        if self.buffer and (
            force
            or len(self.buffer) >= self.batch
            or time.monotonic() - self.first_buffered >= FLUSH_SECONDS
        ):
            self._flush()

    def _flush(self) -> None:
        buffer, self.buffer = self.buffer, []
        if not buffer:
            return
        write_outcomes(self.worker, buffer)
        if self.progress:
            for record in buffer:
                if record.outcome != DEFER:
                    self.progress(record.outcome)

    def _abort(self) -> None:
        """A failure on the coordinator: stop, and keep what was sent on record."""
        self.halt.set()
        self._stop_senders()
        while True:
            try:
                self._handle(self.results.get_nowait())
            except queue.Empty:
                break
        try:
            self._flush()
        except Exception:
            log.exception("Attempt %s: outcomes not recorded", self.attempt_id)


def serve(
    attempt_id: int,
    *,
    worker: str,
    renew: Callable[[], bool],
    max_seconds: float | None,
    rate: float | None,
    progress: Callable[[str], None] | None = None,
    session: SMTPSession | None = None,
) -> RunResult:
    """Serve the attempt's unserved recipients as `worker`, then summarise it."""
    attempt = Attempt.objects.select_related("mailing__message").get(pk=attempt_id)
    pipeline = Pipeline(
        attempt,
        worker=worker,
        renew=renew,
        progress=progress,
        max_seconds=max_seconds,
        rate=engine().send_rate if rate is None else rate,
        session=session,
    )
    try:
        pipeline.run()
        if pipeline.stop:
            skip_the_rest(attempt_id, pipeline.stop, worker)
    finally:
        unclaim(attempt_id, worker)
        result = close_out(
            attempt_id,
            breaker=pipeline.breaker,
            stop=pipeline.stop,
            last_reply=pipeline.last_reply,
        )
    result.out_of_time = pipeline.out_of_time and not result.finished
    if pipeline.breaker:
        log.warning("Attempt %s stopped: %s", attempt_id, result.server_response)
    return result
