"""Health of the pieces Mailshot needs: database, cache, broker and the cluster."""

from __future__ import annotations

import datetime as dt
import hmac
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest
from django.utils import timezone

from apps.core import permissions

HEARTBEAT_KEY = "mailshot:cluster-heartbeat"


def record_heartbeat() -> None:
    """Called by the cluster's scheduler tick: proof that schedules are running."""
    cache.set(HEARTBEAT_KEY, timezone.now().isoformat(), timeout=None)


def _timed(check: Callable[[], str]) -> dict[str, object]:
    started = time.perf_counter()
    try:
        detail = check()
        ok = True
    except Exception as exc:  # noqa: BLE001 — any failure is the answer here
        detail, ok = f"{type(exc).__name__}: {exc}"[:200], False
    result: dict[str, object] = {
        "ok": ok,
        "ms": round((time.perf_counter() - started) * 1000, 1),
    }
    if detail:
        result["detail"] = detail
    return result


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def _cache() -> str:
    key = "mailshot:health-probe"
    cache.set(key, "1", timeout=30)
    if cache.get(key) != "1":
        raise RuntimeError("the value written was not read back")
    return cache.__class__.__name__


def _broker() -> str:
    from django_q.brokers import get_broker

    broker = get_broker()
    if not broker.ping():
        raise RuntimeError("the broker did not answer")
    return broker.info()


def cluster_status() -> dict[str, object]:
    from django_q.status import Stat

    clusters = Stat.get_all()
    beat = cache.get(HEARTBEAT_KEY)
    age = None
    if beat:
        age = round((timezone.now() - dt.datetime.fromisoformat(beat)).total_seconds())
    return {
        "clusters_running": len(clusters),
        "last_heartbeat": beat,
        "heartbeat_age_seconds": age,
    }


def health() -> tuple[bool, dict[str, dict[str, object]]]:
    checks = {
        "database": _timed(_database),
        "cache": _timed(_cache),
        "broker": _timed(_broker),
    }
    healthy = all(c["ok"] for c in checks.values())
    try:
        checks["cluster"] = cluster_status()
    except Exception as exc:  # noqa: BLE001
        checks["cluster"] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
    return healthy, checks


def may_see_details(request: HttpRequest) -> bool:
    """Details (engines, versions, errors, cluster) are for operators only: a
    logged-in superuser, or a monitor sending ``Authorization: Bearer <token>`` with
    ``MAILSHOT_HEALTH_TOKEN``; everybody else learns only ok or degraded."""
    user = getattr(request, "user", None)
    if user is not None and permissions.operates(user):
        return True
    token = settings.MAILSHOT_HEALTH_TOKEN
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    return (
        bool(token)
        and scheme == "Bearer"
        and hmac.compare_digest(sent.encode(), token.encode())
    )
