"""The sending engine: runs of mailings, their per-recipient ledger, and SMTP.

One run of a mailing is one ``Attempt`` with one ``Delivery`` row per recipient.
Tasks, commands and the admin call the functions re-exported here; the modules
behind them each hold one concern:

* ``runs`` starts a run: a due one claims the mailing's scheduled slot (UPDATE …
  WHERE next_run_at = the value read), so two clusters ticking at once start one
  run, not two; "send now" opens a manual one. A partial unique index keeps at most
  one unfinished attempt per mailing.
* ``claims``: who runs an attempt is decided by a *lease* on the attempt row, and
  each recipient is *claimed* before it is sent, both with a conditional UPDATE
  whose row count decides the owner (plus ``SKIP LOCKED`` on PostgreSQL). A worker
  that dies stops renewing; once its lease runs out the next tick resumes the run
  where it stopped.
* ``pipeline``: one coordinator thread claims batches and writes outcomes while up
  to ``MAILSHOT_SMTP_CONNECTIONS`` sender threads talk SMTP; nobody served is
  served again, and after a crash at most the messages of the last unwritten batch
  can go out twice.
* ``outcomes``: typed outcome records written in batches, only for rows the worker
  still holds, and the attempt summarised and closed from its ledger.
* ``transport``: ``smtplib`` with ``EMAIL_TIMEOUT`` on every call, one connection
  per sender thread, reconnects and bounded retries with back-off for 4xx,
  timeouts and dropped connections; 5xx fails that recipient only. A server that
  stays unreachable stops the run at once (circuit breaker): its attempt is marked
  ``failure`` and the unserved recipients stay pending for the next tick.
* ``tick``: the scheduler's minute: due mailings, expired leases, closed windows.

The engine reads around django-cachalot (``cachalot_disabled``): claims and leases
must see the database as it is now; its writes still invalidate the cache for the
web pages, except the ledger's (``Delivery``), which cachalot never caches.
"""

from apps.mailings.sending.claims import release_lease
from apps.mailings.sending.outcomes import RunResult
from apps.mailings.sending.runs import (
    CannotRun,
    assist_attempt,
    resume_attempt,
    run_attempt,
    run_due_mailing,
    run_mailing_now,
    start_due_run,
    start_manual_run,
)
from apps.mailings.sending.tick import TickResult, tick
from apps.mailings.sending.transport import SMTPSession

__all__ = [
    "CannotRun",
    "RunResult",
    "SMTPSession",
    "TickResult",
    "assist_attempt",
    "release_lease",
    "resume_attempt",
    "run_attempt",
    "run_due_mailing",
    "run_mailing_now",
    "start_due_run",
    "start_manual_run",
    "tick",
]
