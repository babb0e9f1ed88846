"""Starting and serving runs: a due run (the schedule's slot), a manual run ("send
now"), and the lease-holding worker or a helper serving an attempt."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypedDict, Unpack, cast

from cachalot.api import cachalot_disabled
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.audiences.selectors import Targets, recipients, suppressed_q
from apps.content.senders import sender_refusal
from apps.core.db import column
from apps.mailings import scheduling
from apps.mailings.locking import retry_when_locked
from apps.mailings.models import Attempt, Delivery, Mailing
from apps.mailings.sending import claims
from apps.mailings.sending.claims import lease_seconds, new_worker_id
from apps.mailings.sending.outcomes import RunResult, close_out
from apps.mailings.sending.pipeline import serve
from apps.mailings.sending.transport import SMTPSession
from apps.mailings.services import attempt_created


def uncached[**P, R](func: Callable[P, R]) -> Callable[P, R]:
    """Run `func` around django-cachalot: starting a run must see the database as it
    is now (its writes still invalidate the cache for the web pages)."""
    return cast(Callable[P, R], cachalot_disabled()(func))


def in_site_language[**P, R](func: Callable[P, R]) -> Callable[P, R]:
    """Run `func` in the site's language (LANGUAGE_CODE): what a run writes in the
    ledger (``server_response``, skip reasons) must not depend on whichever
    translation a previous request left active in the worker's thread."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with translation.override(settings.LANGUAGE_CODE):
            return func(*args, **kwargs)

    return wrapper


class CannotRun(Exception):
    """A readable reason why a mailing cannot be sent now."""


def due(now: datetime) -> Q:
    """Mailings whose scheduled run has come: enabled, not paused, owner not
    blocked, inside their window (``start_at <= now < end_at``) and
    ``next_run_at <= now``. The tick
    and the claim of a slot both ask this, so a run missed while nothing ran never
    goes out after its window closed."""
    return Q(
        is_enabled=True,
        is_paused=False,
        owner__is_blocked=False,
        start_at__lte=now,
        end_at__gt=now,
        next_run_at__lte=now,
    ) & ~Q(status=Mailing.Status.FINISHED)


def open_attempt(mailing_id: int) -> Attempt | None:
    return Attempt.objects.filter(
        mailing_id=mailing_id, finished_at__isnull=True
    ).first()


def _create_attempt(*, mailing: Mailing, worker: str, now: datetime) -> Attempt:
    """A new attempt leased to `worker`, with one ledger row per recipient."""
    attempt = Attempt.objects.create(
        mailing=mailing,
        attempted_at=now,
        lease_owner=worker,
        lease_expires_at=now + timedelta(seconds=lease_seconds()),
    )
    attempt_created(attempt=attempt)
    total = _insert_ledger(attempt.pk, mailing.pk)
    Attempt.objects.filter(pk=attempt.pk).update(total_count=total)
    attempt.total_count = total
    return attempt


def _insert_ledger(attempt_id: int, mailing_id: int) -> int:
    """Resolve the mailing's targets into the ledger with one INSERT … SELECT.

    The union of its lists, segments, individual clients (or all the owner's
    clients) is read as it is now, so each run of a recurring mailing reaches new
    subscribers. One row per client, in client order (claims go by row id); the
    owner's clients have distinct addresses, so that is one row per e-mail. A
    client who unsubscribed or whose address is suppressed (by the owner or
    site-wide) gets a row that is already ``skipped``, with the reason, and is
    never handed to a sender. The rows never pass through Python.
    """
    mailing = Mailing.objects.select_related("owner").get(pk=mailing_id)
    targets = Targets.of_mailing(mailing)
    # The recipients with why a row is skipped (0: it is not), worked out once per
    # client: the outer statement names it three times, and a database that merged
    # the two SELECTs would copy the suppression look-up into each place (SQLite
    # does), so the inner one is fenced with OFFSET 0, which neither merges.
    recipient_rows = (
        recipients(targets)
        .order_by()
        .values(
            r_id=F("pk"),
            r_email=F("email"),
            r_skip=Case(
                When(is_unsubscribed=True, then=Value(UNSUBSCRIBED)),
                When(suppressed_q(mailing.owner_id), then=Value(SUPPRESSED)),
                default=Value(0),
                output_field=IntegerField(),
            ),
        )
    )
    inner, inner_params = recipient_rows.query.sql_with_params()
    fence = "LIMIT -1 OFFSET 0" if connection.vendor == "sqlite" else "OFFSET 0"
    quote = connection.ops.quote_name
    delivery = Delivery._meta
    columns = ", ".join(
        quote(column(delivery, name))
        for name in (
            "attempt", "client", "email", "outcome", "server_response",
            "message_id", "claimed_by", "tries", "processed_at",
        )
    )  # fmt: skip
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with claims.ledger_cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(delivery.db_table)} ({columns}) "  # noqa: S608
            "SELECT %s, t.r_id, t.r_email, "
            "CASE WHEN t.r_skip > 0 THEN %s ELSE %s END, "
            "CASE t.r_skip WHEN %s THEN %s WHEN %s THEN %s ELSE '' END, '', '', 0, "
            "CASE WHEN t.r_skip > 0 THEN %s ELSE NULL END "
            f"FROM ({inner} {fence}) t ORDER BY t.r_id",
            [
                attempt_id,
                Delivery.Outcome.SKIPPED,
                Delivery.Outcome.PENDING,
                UNSUBSCRIBED,
                str(_("Unsubscribed.")),
                SUPPRESSED,
                str(_("Suppressed address.")),
                now,
                *inner_params,
            ],
        )
        return int(cursor.rowcount)


# Why a ledger row is skipped from the start (run resolution's r_skip).
UNSUBSCRIBED, SUPPRESSED = 1, 2


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


@retry_when_locked
@uncached
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
        mailing = (
            Mailing.objects.select_related("owner")
            .filter(due(now), pk=mailing_id)
            .first()
        )
        if mailing is None or mailing.next_run_at is None:
            return None
        following = scheduling.next_run_after(
            periodicity=mailing.periodicity,
            start_at=mailing.start_at,
            end_at=mailing.end_at,
            scheduled=mailing.next_run_at,
            now=now,
            tz=mailing.owner.time_zone,  # 09:00 stays 09:00 in the owner's zone
        )
        won = Mailing.objects.filter(
            pk=mailing.pk,
            next_run_at=mailing.next_run_at,
            is_enabled=True,
            is_paused=False,
        ).update(next_run_at=following, status=Mailing.Status.RUNNING, updated_at=now)
        if not won:
            return None
        attempt = _open_or_create(mailing=mailing, worker=worker, now=now)
    if following is not None:
        transaction.on_commit(
            lambda: scheduling.schedule_mailing_start(mailing.pk, following)
        )
    return attempt


@retry_when_locked
@uncached
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
    if mailing.is_paused:
        raise CannotRun(_("Mailing #%(id)s is paused.") % {"id": mailing_id})
    if mailing.owner.is_blocked:
        raise CannotRun(
            _("The owner of mailing #%(id)s is blocked.") % {"id": mailing_id}
        )
    refusal = sender_refusal(mailing)
    if refusal:
        raise CannotRun(refusal)
    with transaction.atomic():
        changes: dict[str, object] = {
            "status": Mailing.Status.RUNNING,
            "updated_at": now,
        }
        if mailing.periodicity == Mailing.Periodicity.ONCE:
            changes["next_run_at"] = None  # a "once" mailing has now run
        Mailing.objects.filter(pk=mailing.pk).exclude(
            status=Mailing.Status.FINISHED
        ).update(**changes)
        attempt = _open_or_create(mailing=mailing, worker=worker, now=now)
    if attempt is None:  # pragma: no cover (closed between two queries)
        raise CannotRun(_("Mailing #%(id)s could not be started.") % {"id": mailing_id})
    return attempt


def _stopped_before_start(attempt_id: int, worker: str) -> RunResult | None:
    """A run whose mailing must not send (its sender is not verified, it was
    disabled…) skips everyone before anything is composed: the readable reason
    goes in the ledger and on the attempt, and nothing is sent as that sender."""
    mailing_id = (
        Attempt.objects.filter(pk=attempt_id)
        .values_list("mailing_id", flat=True)
        .first()
    )
    if mailing_id is None:
        return None
    reason = claims.stop_reason(mailing_id)
    if not reason:
        return None
    claims.skip_the_rest(attempt_id, reason, worker)
    return close_out(attempt_id, breaker="", stop=reason, last_reply="")


@in_site_language
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
    name = worker or new_worker_id()
    with cachalot_disabled():
        if not claims.take_lease(attempt_id, name):
            return _held_elsewhere(attempt_id)
        try:
            stopped = _stopped_before_start(attempt_id, name)
            if stopped is not None:
                return stopped
            if on_start:
                on_start(attempt_id)
            return serve(
                attempt_id,
                worker=name,
                renew=lambda: claims.renew_lease(attempt_id, name),
                progress=progress,
                max_seconds=max_seconds,
                rate=rate,
                session=session,
            )
        finally:
            claims.release_lease(attempt_id, name)


def _held_elsewhere(attempt_id: int) -> RunResult:
    attempt = Attempt.objects.filter(pk=attempt_id).first()
    running = attempt is not None and not attempt.is_finished
    return RunResult(
        attempt_id=attempt_id,
        status=attempt.status if attempt else "",
        finished=bool(attempt and attempt.is_finished),
        server_response=_("Another worker is running this attempt.") if running else "",
    )


@in_site_language
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
    name = worker or new_worker_id()
    with cachalot_disabled():
        if not Attempt.objects.filter(pk=attempt_id, finished_at__isnull=True).exists():
            return None
        stopped = _stopped_before_start(attempt_id, name)
        if stopped is not None:
            return stopped
        return serve(
            attempt_id,
            worker=name,
            renew=lambda: claims.renew_claims(attempt_id, name),
            max_seconds=max_seconds,
            rate=rate,
        )


class RunOptions(TypedDict, total=False):
    """How a run is served (see ``run_attempt``)."""

    progress: Callable[[str], None] | None
    max_seconds: float | None
    rate: float | None
    session: SMTPSession | None
    on_start: Callable[[int], None] | None


def run_mailing_now(
    mailing_id: int,
    *,
    progress_factory: Callable[[Attempt], Callable[[str], None]] | None = None,
    **options: Unpack[RunOptions],
) -> RunResult:
    """Send a mailing now: start a run, or resume its unfinished one."""
    worker = new_worker_id()
    attempt = start_manual_run(mailing_id, worker=worker)
    if progress_factory:
        options["progress"] = progress_factory(attempt)
    return run_attempt(attempt.pk, worker=worker, **options)


def run_due_mailing(mailing_id: int, **options: Unpack[RunOptions]) -> RunResult | None:
    """Run the mailing if its scheduled time has come (and nobody else took it)."""
    worker = new_worker_id()
    attempt = start_due_run(mailing_id, worker=worker)
    if attempt is None:
        return None
    return run_attempt(attempt.pk, worker=worker, **options)


def resume_attempt(attempt_id: int, **options: Unpack[RunOptions]) -> RunResult:
    """Serve what an interrupted run left (its worker died or the server was down)."""
    return run_attempt(attempt_id, **options)
