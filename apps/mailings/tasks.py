"""django-q2 tasks: thin functions that take ids and call the sending engine."""

from __future__ import annotations

from django.conf import settings

from apps.mailings import sending


def _run_budget() -> float | None:
    """Stop a run before django-q2's task timeout would kill it mid-message; the
    rest is continued by a follow-up task."""
    timeout = settings.Q_CLUSTER.get("timeout")
    return timeout * 0.8 if timeout else None


def _cluster_rate() -> float:
    # MAILSHOT_SEND_RATE is per cluster: each worker process takes its share.
    rate = float(getattr(settings, "MAILSHOT_SEND_RATE", 0) or 0)
    workers = int(settings.Q_CLUSTER.get("workers") or 1)
    return rate / workers if rate else 0


def _continue_if_unfinished(result: sending.RunResult | None) -> None:
    if result and result.out_of_time:
        from django_q.tasks import async_task

        async_task("apps.mailings.tasks.resume_attempt", result.attempt_id)


def run_mailing(mailing_id: int) -> str:
    """ "Send now" from the admin: start a run or resume the unfinished one."""
    try:
        result = sending.run_mailing_now(
            mailing_id, max_seconds=_run_budget(), rate=_cluster_rate()
        )
    except sending.CannotRun as exc:
        return str(exc)
    _continue_if_unfinished(result)
    return result.summary()


def run_due_mailing(mailing_id: int) -> str:
    """A mailing whose time has come (no-op if it is not due or already taken)."""
    result = sending.run_due_mailing(
        mailing_id, max_seconds=_run_budget(), rate=_cluster_rate()
    )
    _continue_if_unfinished(result)
    return result.summary() if result else "not due"


def resume_attempt(attempt_id: int) -> str:
    result = sending.resume_attempt(
        attempt_id, max_seconds=_run_budget(), rate=_cluster_rate()
    )
    _continue_if_unfinished(result)
    return result.summary()


def send_due_mailings() -> str:
    """The cluster's every-minute tick: each due mailing and each interrupted run
    becomes its own task, so one slow or broken mailing does not hold up others."""
    from django_q.tasks import async_task

    from apps.core.health import record_heartbeat

    record_heartbeat()  # /healthz reports how long ago the cluster last ticked

    def enqueue(kind: str, object_id: int) -> None:
        if kind == "attempt":
            async_task("apps.mailings.tasks.resume_attempt", object_id)
        else:
            async_task("apps.mailings.tasks.run_due_mailing", object_id)

    sending.plan_upcoming_starts()
    return sending.tick(run=enqueue).summary()
