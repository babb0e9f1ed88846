"""What happened to each recipient, and to the run: outcome records written in
batches, and the attempt summarised (and closed) from its ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.mailings.locking import retry_when_locked
from apps.mailings.models import Attempt, Delivery, Mailing
from apps.mailings.sending.claims import defer, ledger_cursor
from apps.mailings.sending.transport import short

Outcome = Delivery.Outcome
# Not a final outcome: the recipient goes back to pending for a later run.
DEFER = "defer"


@dataclass(frozen=True, slots=True)
class OutcomeRecord:
    """One recipient's outcome, waiting to be written with its batch."""

    pk: int
    outcome: str  # sent, failed, skipped, or DEFER
    reply: str
    message_id: str = ""
    at: datetime | None = None
    tried: int = 0  # SMTP tries this outcome adds to the row's count


@retry_when_locked
def write_outcomes(worker: str, records: list[OutcomeRecord]) -> None:
    """Record a batch of outcomes in one transaction (one statement on PostgreSQL).

    Only rows this worker still holds are written: a worker whose claim ran out and
    was taken over never overwrites the new holder's row.
    """
    final = [r for r in records if r.outcome != DEFER]
    with transaction.atomic():
        for r in records:
            if r.outcome == DEFER:
                defer(r.pk, worker, r.reply)
        if not final:
            return
        if connection.vendor == "postgresql":
            _write_postgresql(worker, final)
        else:
            _write_row_by_row(worker, final)


_TABLE = Delivery._meta.db_table


def _write_postgresql(worker: str, final: list[OutcomeRecord]) -> None:
    table = connection.ops.quote_name(_TABLE)
    with ledger_cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS d SET outcome = v.outcome, "  # noqa: S608
            "server_response = v.reply, message_id = v.mid, processed_at = v.at, "
            "tries = d.tries + v.tried FROM (SELECT unnest(%s::bigint[]) AS id, "
            "unnest(%s::varchar[]) AS outcome, unnest(%s::varchar[]) AS reply, "
            "unnest(%s::varchar[]) AS mid, unnest(%s::timestamptz[]) AS at, "
            "unnest(%s::int[]) AS tried) AS v "
            "WHERE d.id = v.id AND d.outcome = %s AND d.claimed_by = %s",
            [
                [r.pk for r in final],
                [r.outcome for r in final],
                [short(r.reply) for r in final],
                [r.message_id for r in final],
                [r.at for r in final],
                [r.tried for r in final],
                Outcome.CLAIMED,
                worker,
            ],
        )


def _write_row_by_row(worker: str, final: list[OutcomeRecord]) -> None:
    table = connection.ops.quote_name(_TABLE)
    adapt = connection.ops.adapt_datetimefield_value
    with ledger_cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET outcome = %s, server_response = %s, "  # noqa: S608
            "message_id = %s, processed_at = %s, tries = tries + %s "
            "WHERE id = %s AND outcome = %s AND claimed_by = %s",
            [
                (
                    r.outcome,
                    short(r.reply),
                    r.message_id,
                    adapt(r.at),
                    r.tried,
                    r.pk,
                    Outcome.CLAIMED,
                    worker,
                )
                for r in final
            ],
        )


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


def _tally(attempt_id: int) -> RunResult:
    """The ledger's counts (status and reply still to be decided)."""
    counts = dict(
        Delivery.objects.filter(attempt_id=attempt_id)
        .values_list("outcome")
        .annotate(n=Count("pk"))
        .values_list("outcome", "n")
    )
    result = RunResult(
        attempt_id=attempt_id,
        status="",
        finished=False,
        sent=counts.get(Outcome.SENT, 0),
        failed=counts.get(Outcome.FAILED, 0),
        skipped=counts.get(Outcome.SKIPPED, 0),
        pending=counts.get(Outcome.PENDING, 0) + counts.get(Outcome.CLAIMED, 0),
    )
    result.total = result.sent + result.failed + result.skipped + result.pending
    return result


def _last_failure(attempt_id: int) -> str | None:
    return (
        Delivery.objects.filter(attempt_id=attempt_id, outcome=Outcome.FAILED)
        .order_by("-processed_at")
        .values_list("server_response", flat=True)
        .first()
    )


def _verdict(result: RunResult, *, breaker: str, stop: str, last_reply: str) -> None:
    """Fill in the status and the reply people read for a tallied run."""
    if breaker:
        result.status = Attempt.Status.FAILURE
        result.server_response = _(
            "The mail server is unreachable (%(reason)s). Left for the next run: "
            "%(pending)d."
        ) % {"reason": breaker, "pending": result.pending}
        return
    if result.pending:
        return  # in progress: no status, no reply yet
    if result.failed == 0 and not stop:
        result.status = Attempt.Status.SUCCESS
    elif result.sent == 0:
        result.status = Attempt.Status.FAILURE
    else:
        result.status = Attempt.Status.PARTIAL
    result.server_response = stop or last_reply
    if result.failed:
        result.server_response = _(
            "%(failed)d of %(total)d refused; last: %(reply)s"
        ) % {
            "failed": result.failed,
            "total": result.total,
            "reply": _last_failure(result.attempt_id or 0),
        }


@retry_when_locked
def close_out(
    attempt_id: int, *, breaker: str, stop: str, last_reply: str
) -> RunResult:
    """Summarise the ledger on the attempt; finish it when nobody is left."""
    result = _tally(attempt_id)
    _verdict(result, breaker=breaker, stop=stop, last_reply=last_reply)
    result.finished = result.pending == 0
    changes: dict[str, object] = {
        "sent_count": result.sent,
        "failed_count": result.failed,
        "skipped_count": result.skipped,
        "total_count": result.total,
        "status": result.status,  # "" while unfinished: in progress again
    }
    if result.server_response:
        result.server_response = short(result.server_response)
        changes["server_response"] = result.server_response
    now = timezone.now()
    if result.finished:
        changes["finished_at"] = now
    # Several workers may serve one attempt: whoever sees it done first closes it.
    closed = Attempt.objects.filter(pk=attempt_id, finished_at__isnull=True).update(
        **changes
    )
    if result.finished and closed:
        mailing_id = Attempt.objects.values_list("mailing_id", flat=True).get(
            pk=attempt_id
        )
        Mailing.objects.filter(
            pk=mailing_id, next_run_at__isnull=True, status=Mailing.Status.RUNNING
        ).update(status=Mailing.Status.FINISHED, updated_at=now)
    return result
