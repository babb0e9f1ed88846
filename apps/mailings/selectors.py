"""Reads of mailing objects, each limited to what a person may see.

Who may see what is decided in ``apps.core.permissions`` (the one place): these are
the mailing app's named reads on top of it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core import permissions
from apps.mailings.models import (
    Attempt,
    Client,
    ClientImport,
    Delivery,
    Mailing,
    Message,
)

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# Kept under the names the app's callers know; the rules are the permission module's.
can = permissions.can


def visible_clients(user: Any) -> QuerySet[Client]:
    return permissions.visible(user, Client)


def visible_messages(user: Any) -> QuerySet[Message]:
    return permissions.visible(user, Message)


def visible_mailings(user: Any) -> QuerySet[Mailing]:
    return permissions.visible(user, Mailing)


def visible_attempts(user: Any) -> QuerySet[Attempt]:
    return permissions.visible(user, Attempt)


def visible_deliveries(user: Any) -> QuerySet[Delivery]:
    return permissions.visible(user, Delivery)


def visible_clients_count(user: Any) -> int:
    """How many clients `user` sees, read from the (owner, e-mail) index alone.

    Object permissions are given to the owner only, so a user's clients are their
    own; checking the permission row of each of 100,000 clients would only slow it.
    """
    if permissions.sees_all(user, Client):
        return Client.objects.count()
    if not permissions.role(user).active:
        return 0
    return permissions.owned(user, Client).count()


def owned_clients(owner: Any) -> QuerySet[Client]:
    """What a mailing of `owner` may include: the owner's own clients only."""
    return permissions.owned(owner, Client)


def owned_messages(owner: Any) -> QuerySet[Message]:
    return permissions.owned(owner, Message)


def recent_attempts(user: Any, *, since: datetime, limit: int = 8) -> QuerySet[Attempt]:
    """The newest runs `user` sees, started since `since` (the dashboard's list).

    Read newest first along the attempted_at index, each row checked (EXISTS) for
    being the person's: ordering 100,000 of someone's runs to keep 8 would cost
    far more than reading the newest runs until 8 of theirs turn up.
    """
    return (
        visible_attempts(user)
        .filter(attempted_at__gte=since)
        .select_related("mailing__message")
        .order_by("-attempted_at")[:limit]
    )


def may_list_attempts(user: Any) -> bool:
    """The attempt list and its reports: managers and the owners of mailings."""
    return permissions.may(user, "view", Attempt)


def visible_client_imports(user: Any) -> QuerySet[ClientImport]:
    """Import jobs: the person who uploaded the file, and superusers. Not managers:
    a job's report quotes rows of someone's file."""
    return permissions.visible(user, ClientImport)


# --- What a mailing is doing now, in words people read (issue 15: honest states) ---

STATE_LABELS: dict[str, StrOrPromise] = {
    "disabled": _("Disabled by a manager"),
    "paused": _("Paused"),
    "sending": _("Sending"),
    "starting": _("Starting"),
    "finished": _("Finished"),
    "scheduled": _("Scheduled"),
    "running": _("Running"),
}
# The states in which the next run date means something.
STATES_WITH_NEXT_RUN = ("starting", "scheduled", "running")


def open_run_exists() -> Exists:
    return Exists(
        Attempt.objects.filter(mailing_id=OuterRef("pk"), finished_at__isnull=True)
    )


def finished_run_exists() -> Exists:
    return Exists(
        Attempt.objects.filter(mailing_id=OuterRef("pk"), finished_at__isnull=False)
    )


def with_run_flags(queryset: QuerySet[Mailing]) -> QuerySet[Mailing]:
    """Mailings with ``run_open`` and ``run_done`` (two EXISTS per row, no extra
    query): what ``mailing_state`` needs for a list."""
    return queryset.annotate(run_open=open_run_exists(), run_done=finished_run_exists())


def mailing_state(mailing: Mailing, *, now: datetime | None = None) -> str:
    """One of STATE_LABELS' keys, from the switches, the status and the runs.

    A one-off mailing that has run is finished even while its window is open; a
    mailing whose run is queued but not started yet is "starting", not "created".
    """
    if not mailing.is_enabled:
        return "disabled"
    if mailing.is_paused:
        return "paused"
    run_open = getattr(mailing, "run_open", None)
    if run_open is None:
        run_open = mailing.attempts.filter(finished_at__isnull=True).exists()
    if run_open:
        return "sending"
    if mailing.status == Mailing.Status.FINISHED:
        return "finished"
    now = now or timezone.now()
    if mailing.next_run_at is None:
        if mailing.periodicity == Mailing.Periodicity.ONCE:
            run_done = getattr(mailing, "run_done", None)
            if run_done is None:
                run_done = mailing.attempts.filter(finished_at__isnull=False).exists()
            if run_done:
                return "finished"
        return "running" if mailing.status == Mailing.Status.RUNNING else "scheduled"
    if mailing.next_run_at <= now < mailing.end_at:
        return "starting"
    if mailing.status == Mailing.Status.CREATED:
        return "scheduled"
    return "running"


def state_label(state: str) -> StrOrPromise:
    return STATE_LABELS[state]


# --- Live progress of a run (issue 15: the mailing and attempt pages poll it) ---


def attempt_counts(attempt: Attempt) -> dict[str, int]:
    """sent / failed / skipped / pending of one run: read from the ledger while it
    runs (the attempt's own counters are written when it closes), from the attempt
    once finished. One grouped query on the (attempt, outcome) index."""
    if attempt.is_finished:
        sent, failed = attempt.sent_count, attempt.failed_count
        skipped = attempt.skipped_count
        pending = max(0, attempt.total_count - sent - failed - skipped)
    else:
        rows = dict(
            Delivery.objects.filter(attempt_id=attempt.pk)
            .values_list("outcome")
            .annotate(n=Count("pk"))
            .values_list("outcome", "n")
        )
        outcome = Delivery.Outcome
        sent, failed = rows.get(outcome.SENT, 0), rows.get(outcome.FAILED, 0)
        skipped = rows.get(outcome.SKIPPED, 0)
        pending = rows.get(outcome.PENDING, 0) + rows.get(outcome.CLAIMED, 0)
    total = sent + failed + skipped + pending
    return {
        "total": total,
        "sent": sent,
        "failed": failed,
        "skipped": skipped,
        "pending": pending,
        "percent": round(100 * (total - pending) / total) if total else 0,
    }


def attempt_progress(attempt: Attempt) -> dict[str, Any]:
    counts = attempt_counts(attempt)
    running = not attempt.is_finished
    return {
        "running": running,
        "attempt": attempt.pk,
        "status": attempt.status,
        "status_label": str(
            attempt.get_status_display() if attempt.status else _("in progress")
        ),
        "text": progress_text(counts, running=running),
        **counts,
    }


def mailing_progress(mailing: Mailing) -> dict[str, Any]:
    """The open run of `mailing` (or its latest) and the mailing's state.

    ``running`` stays true while a run is queued or in progress: the page keeps
    asking until it is over."""
    state = mailing_state(mailing)
    attempt = (
        mailing.attempts.filter(finished_at__isnull=True).first()
        or mailing.attempts.order_by("-attempted_at").first()
    )
    data: dict[str, Any] = (
        attempt_progress(attempt)
        if attempt is not None
        else {
            "running": False,
            "attempt": None,
            "status": "",
            "status_label": "",
            "text": "",
            "total": 0,
            "sent": 0,
            "failed": 0,
            "skipped": 0,
            "pending": 0,
            "percent": 0,
        }
    )
    data["running"] = state in ("sending", "starting")
    if state == "starting" and not (attempt and not attempt.is_finished):
        data["text"] = str(_("Starting: the run begins within seconds."))
    data["state"] = state
    data["state_label"] = str(state_label(state))
    return data


def progress_text(counts: dict[str, int], *, running: bool) -> str:
    text = (
        _(
            "%(sent)d sent · %(failed)d failed · %(skipped)d skipped · "
            "%(pending)d pending of %(total)d"
        )
        % counts
    )
    return str(text)
