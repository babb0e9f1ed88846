"""django-q2 tasks: thin functions that take ids and call the sending engine."""

from __future__ import annotations

from django_q.brokers import get_broker
from django_q.status import Stat
from django_q.tasks import async_task

from apps.core.health import record_heartbeat
from apps.mailings import scheduling, sending
from apps.mailings.conf import engine
from apps.mailings.models import Delivery


def _run_budget() -> float | None:
    """Stop a run before django-q2's task timeout would kill it mid-message; the
    rest is continued by a follow-up task."""
    timeout = engine().task_timeout
    return timeout * 0.8 if timeout else None


def _cluster_rate() -> float:
    # MAILSHOT_SEND_RATE is per cluster: each worker process takes its share.
    conf = engine()
    return conf.send_rate / conf.workers


def _helper_count() -> int:
    """How many helper tasks a run queues (MAILSHOT_RUN_HELPERS; -1: one per other
    worker of the clusters that are running now, whichever host they are on)."""
    conf = engine()
    if conf.sync:
        return 0  # a queued task would run inline, before the run itself
    if conf.run_helpers >= 0:
        return conf.run_helpers
    try:
        workers = sum(len(stat.workers) for stat in Stat.get_all(get_broker()))
    except Exception:  # no broker stats: count this cluster's workers only
        workers = 0
    return max(0, (workers or conf.workers) - 1)


def _queue_helpers(attempt_id: int) -> None:
    """Let other workers serve this run too: each helper claims batches of the same
    attempt (its claims decide who owns a recipient, so nobody is served twice)."""
    count = _helper_count()
    if count <= 0:
        return
    unserved = Delivery.objects.filter(
        attempt_id=attempt_id, outcome__in=["pending", "claimed"]
    ).count()
    # A helper is worth starting for two batches or more.
    for _ in range(min(count, unserved // (2 * engine().batch_size))):
        async_task("apps.mailings.tasks.assist_attempt", attempt_id)


def _continue_if_unfinished(result: sending.RunResult | None) -> None:
    if result and result.out_of_time:
        async_task("apps.mailings.tasks.resume_attempt", result.attempt_id)


def run_mailing(mailing_id: int) -> str:
    """ "Send now" from the admin: start a run or resume the unfinished one."""
    try:
        result = sending.run_mailing_now(
            mailing_id,
            max_seconds=_run_budget(),
            rate=_cluster_rate(),
            on_start=_queue_helpers,
        )
    except sending.CannotRun as exc:
        return str(exc)
    _continue_if_unfinished(result)
    return result.summary()


def run_due_mailing(mailing_id: int) -> str:
    """A mailing whose time has come (no-op if it is not due or already taken)."""
    result = sending.run_due_mailing(
        mailing_id,
        max_seconds=_run_budget(),
        rate=_cluster_rate(),
        on_start=_queue_helpers,
    )
    _continue_if_unfinished(result)
    return result.summary() if result else "not due"


def resume_attempt(attempt_id: int) -> str:
    result = sending.resume_attempt(
        attempt_id,
        max_seconds=_run_budget(),
        rate=_cluster_rate(),
        on_start=_queue_helpers,
    )
    _continue_if_unfinished(result)
    return result.summary()


def assist_attempt(attempt_id: int) -> str:
    """Serve part of a run another worker leads (queued by that run)."""
    result = sending.assist_attempt(
        attempt_id, max_seconds=_run_budget(), rate=_cluster_rate()
    )
    return result.summary() if result else "nothing to help with"


def send_due_mailings() -> str:
    """The cluster's every-minute tick: each due mailing and each interrupted run
    becomes its own task, so one slow or broken mailing does not hold up others."""
    record_heartbeat()  # /healthz reports how long ago the cluster last ticked

    def enqueue(kind: str, object_id: int) -> None:
        if kind == "attempt":
            async_task("apps.mailings.tasks.resume_attempt", object_id)
        else:
            async_task("apps.mailings.tasks.run_due_mailing", object_id)

    scheduling.plan_upcoming_starts()
    return sending.tick(run=enqueue).summary()
