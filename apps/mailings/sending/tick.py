"""One scheduler tick: start due mailings, resume runs whose lease expired, finish
mailings whose window closed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.mailings.locking import retry_when_locked
from apps.mailings.models import Attempt, Mailing
from apps.mailings.sending.runs import due, resume_attempt, run_due_mailing, uncached

log = logging.getLogger(__name__)


def due_mailing_ids(now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(
        Mailing.objects.filter(due(now))
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


@retry_when_locked
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


Runner = Callable[[str, int], None]


@uncached
def tick(*, run: Runner | None = None, now: datetime | None = None) -> TickResult:
    """One scheduler tick: start due mailings and resume runs whose lease expired.

    `run(kind, id)` decides how the work is done (queued by the cluster's tick, or
    inline from cron); each mailing is handled on its own so one failure does not
    stop the rest.
    """
    now = now or timezone.now()
    due_ids = due_mailing_ids(now)
    resumable = resumable_attempt_ids(now)
    resumed_mailings = set(
        Attempt.objects.filter(pk__in=resumable).values_list("mailing_id", flat=True)
    )
    for attempt_id in resumable:
        _safely(run or _run_inline, "attempt", attempt_id)
    for mailing_id in due_ids:
        if mailing_id not in resumed_mailings:
            _safely(run or _run_inline, "mailing", mailing_id)
    finished = finish_expired_mailings(now)
    return TickResult(started=due_ids, resumed=resumable, finished=finished)


def _run_inline(kind: str, object_id: int) -> None:
    if kind == "attempt":
        resume_attempt(object_id)
    else:
        run_due_mailing(object_id)


def _safely(run: Runner, kind: str, object_id: int) -> None:
    try:
        run(kind, object_id)
    except Exception:
        log.exception("Could not run %s %s", kind, object_id)
