"""Reads for the public home page: the statistics and the random posts.

The statistics are cached under one key in the shared cache. An entry is used only
while it is younger than the last write to the mailing and client tables, as
recorded by django-cachalot in that same cache: cachalot notices every write,
including the sending engine's ``queryset.update()`` and writes by other processes
(cluster, commands). Signals (signals.py) also delete the key, and a short lifetime
is the last resort for writes cachalot cannot see (cachalot switched off, raw SQL
outside Django).
"""

from __future__ import annotations

import random
import time
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from typing import TYPE_CHECKING, Any, TypedDict, cast

from cachalot.api import get_last_invalidation
from django.core.cache import cache
from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import Coalesce, Lower, TruncDate
from django.utils import timezone

from apps.blog.selectors import post_pool
from apps.core import permissions
from apps.mailings.models import Client, Mailing

if TYPE_CHECKING:
    from apps.users.models import User

# One day of the dashboard's chart: (day, (sent, failed)).
DayCounts = tuple[date, tuple[int, int]]


class ChartDay(TypedDict):
    day: date
    sent: int
    failed: int


STATS_KEY = "home:stats"
STATS_TTL = 5 * 60
WATCHED_TABLES = (Mailing, Client, Mailing.clients.through)


def home_statistics_compute() -> dict[str, int]:
    """Two aggregate queries, whatever the amount of data."""
    mailings = Mailing.objects.aggregate(
        total=Count("pk"),
        active=Count("pk", filter=Q(status=Mailing.Status.RUNNING, is_enabled=True)),
    )
    # Clients in at least one mailing; an address kept by several users counts once.
    clients = Client.objects.filter(mailings__isnull=False).aggregate(
        unique=Count(Lower("email"), distinct=True)
    )
    return {
        "mailings_total": mailings["total"],
        "mailings_active": mailings["active"],
        "clients_unique": clients["unique"],
    }


def home_statistics() -> dict[str, int]:
    entry = cache.get(STATS_KEY)
    if entry is not None:
        computed_at, stats = entry
        if computed_at >= get_last_invalidation(*WATCHED_TABLES):
            # Stored by this function a few lines below.
            return cast(dict[str, int], stats)
    # Stamped before computing: a write that races with us makes the entry stale.
    computed_at = time.time()
    stats = home_statistics_compute()
    cache.set(STATS_KEY, (computed_at, stats), STATS_TTL)
    return stats


def home_statistics_forget() -> None:
    cache.delete(STATS_KEY)


def home_random_posts(*, count: int = 3) -> list[dict[str, Any]]:
    """``count`` published posts drawn per request from the cached pool."""
    pool = post_pool()
    return random.sample(pool, k=min(count, len(pool)))


# --- Admin dashboard ---------------------------------------------------------------


def dashboard_statistics(*, user: User, days: int = 30) -> dict[str, Any]:
    """What the admin dashboard shows ``user``: only what the permission module lets
    them see (their own objects; everything for managers). A fixed number of
    aggregate queries, however much data there is."""
    from apps.blog.models import Post
    from apps.mailings.selectors import (
        recent_attempts,
        visible_clients_count,
        visible_mailings,
    )
    from apps.users.models import User

    data: dict[str, Any] = {
        "mailing_role": permissions.may(user, "view", Mailing),
        "sees_everything": permissions.sees_all(user, Mailing),
        "days": days,
    }
    if data["mailing_role"]:
        mailings = visible_mailings(user).aggregate(
            total=Count("pk"),
            active=Count(
                "pk", filter=Q(status=Mailing.Status.RUNNING, is_enabled=True)
            ),
            last=Max("pk"),
        )
        today = timezone.localdate()
        first_day = today - timedelta(days=days - 1)
        by_day = dict(_deliveries_per_day(user, first_day, today, mailings))
        chart: list[ChartDay] = [
            {
                "day": day,
                "sent": by_day.get(day, (0, 0))[0],
                "failed": by_day.get(day, (0, 0))[1],
            }
            for day in (first_day + timedelta(days=n) for n in range(days))
        ]
        sent_total = sum(row["sent"] for row in chart)
        failed_total = sum(row["failed"] for row in chart)
        pending_total = _pending_deliveries(user)
        # The rate is computed from the numbers shown beside it: recipients still
        # waiting (a mail server down) count against it, so an outage never reads
        # "100 %" next to a failed run.
        due = sent_total + failed_total + pending_total
        data.update(
            mailings_total=mailings["total"],
            mailings_active=mailings["active"],
            clients_total=visible_clients_count(user),
            deliveries_sent=sent_total,
            deliveries_failed=failed_total,
            deliveries_pending=pending_total,
            success_rate=round(100 * sent_total / due, 1) if due else None,
            **_bounce_rates(user, since=_day_start(first_day)),
            per_day=chart,
            recent_attempts=list(recent_attempts(user, since=_day_start(first_day))),
        )
    if permissions.sees_all(user, User):
        data["newest_users"] = list(User.objects.order_by("-date_joined")[:5])
    if permissions.may(user, "view", Post):
        data["posts"] = Post.objects.aggregate(
            total=Count("pk"),
            published=Count(
                "pk",
                filter=Q(is_published=True, published_at__lte=timezone.now()),
            ),
            views=Coalesce(Sum("views_count"), 0),
        )
    return data


def _bounce_rates(user: User, *, since: Any) -> dict[str, float | None]:
    """Hard-bounce and complaint rates of what the person sees sent since `since`
    (what mail providers judge a sender by; see apps.deliverability.stats)."""
    from apps.mailings.models import Delivery
    from apps.mailings.selectors import visible_deliveries

    row = (
        visible_deliveries(user)
        .filter(processed_at__gte=since, outcome=Delivery.Outcome.SENT)
        .aggregate(
            sent=Count("pk"),
            hard=Count("pk", filter=Q(bounce_type="hard")),
            complaints=Count("pk", filter=Q(complained_at__isnull=False)),
        )
    )
    sent = row["sent"] or 0
    return {
        "hard_bounce_rate": round(100 * row["hard"] / sent, 2) if sent else None,
        "complaint_rate": round(100 * row["complaints"] / sent, 2) if sent else None,
    }


DAYS_TTL = 26 * 60 * 60


def _pending_deliveries(user: User) -> int:
    """Recipients of the person's unfinished runs not served yet (pending or being
    sent). Only unfinished runs have any: read along the open-attempt index and
    the ledger's (attempt, outcome) index, however long the history."""
    from apps.mailings.models import Attempt, Delivery
    from apps.mailings.selectors import visible_attempts

    open_runs = visible_attempts(user).filter(finished_at__isnull=True)
    if permissions.sees_all(user, Attempt):
        open_runs = Attempt.objects.filter(finished_at__isnull=True)
    return Delivery.objects.filter(
        attempt__in=open_runs.values("pk"),
        outcome__in=[Delivery.Outcome.PENDING, Delivery.Outcome.CLAIMED],
    ).count()


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, dt_time.min))


def _deliveries_counted(
    user: User, since: datetime, until: datetime | None = None
) -> list[DayCounts]:
    """(day, (sent, failed)) of the deliveries ``user`` sees, processed in range."""
    from apps.mailings.models import Delivery
    from apps.mailings.selectors import visible_deliveries

    sent, failed = Delivery.Outcome.SENT, Delivery.Outcome.FAILED
    rows = visible_deliveries(user).filter(
        processed_at__gte=since, outcome__in=[sent, failed]
    )
    if until is not None:
        rows = rows.filter(processed_at__lt=until)
    per_day = (
        rows.annotate(day=TruncDate("processed_at"))
        .values("day")
        .annotate(
            sent=Count("pk", filter=Q(outcome=sent)),
            failed=Count("pk", filter=Q(outcome=failed)),
        )
        .order_by("day")
    )
    return [(row["day"], (row["sent"], row["failed"])) for row in per_day]


def _deliveries_per_day(
    user: User, first_day: date, today: date, mailings: dict[str, Any]
) -> list[DayCounts]:
    """The chart's numbers: closed days from a per-person cache, today counted live.

    A finished day no longer changes — the engine stamps deliveries with the time
    it processes them — so the days before today are counted once a day (a page
    with 100,000 deliveries in the window stays as quick as one with a thousand).
    Deleting or adding a mailing changes the key and recounts them (their
    deliveries go or come with it).
    """
    today_start = _day_start(today)
    key = ":".join(
        str(part)
        for part in (
            "dashboard:days",
            user.pk,
            user.date_joined.timestamp() if user.date_joined else "",
            first_day.isoformat(),
            today.isoformat(),
            mailings["total"],
            mailings["last"],
        )
    )
    closed: list[DayCounts] | None = cache.get(key)
    if closed is None:
        closed = _deliveries_counted(user, _day_start(first_day), today_start)
        cache.set(key, closed, DAYS_TTL)
    return [*closed, *_deliveries_counted(user, today_start)]
