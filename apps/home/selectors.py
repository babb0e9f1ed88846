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
from datetime import datetime, timedelta
from datetime import time as dt_time
from typing import Any

from cachalot.api import get_last_invalidation
from django.core.cache import cache
from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce, Lower, TruncDate
from django.utils import timezone

from apps.blog.selectors import post_pool
from apps.mailings.models import Client, Mailing

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
            return stats
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


def dashboard_statistics(*, user, days: int = 30) -> dict[str, Any]:
    """What the admin dashboard shows ``user``: only what the mailing selectors let
    them see (their own objects; everything for managers). A fixed number of
    aggregate queries, however much data there is."""
    from apps.blog.models import Post
    from apps.mailings.models import Delivery
    from apps.mailings.selectors import (
        sees_everything,
        visible_attempts,
        visible_clients,
        visible_deliveries,
        visible_mailings,
    )
    from apps.users.models import User

    data: dict[str, Any] = {
        "mailing_role": user.has_perm("mailings.add_mailing")
        or sees_everything(user, Mailing),
        "sees_everything": sees_everything(user, Mailing),
        "days": days,
    }
    if data["mailing_role"]:
        mailings = visible_mailings(user).aggregate(
            total=Count("pk"),
            active=Count(
                "pk", filter=Q(status=Mailing.Status.RUNNING, is_enabled=True)
            ),
        )
        today = timezone.localdate()
        first_day = today - timedelta(days=days - 1)
        since = timezone.make_aware(datetime.combine(first_day, dt_time.min))
        sent, failed = Delivery.Outcome.SENT, Delivery.Outcome.FAILED
        per_day = (
            visible_deliveries(user)
            .filter(processed_at__gte=since, outcome__in=[sent, failed])
            .annotate(day=TruncDate("processed_at"))
            .values("day")
            .annotate(
                sent=Count("pk", filter=Q(outcome=sent)),
                failed=Count("pk", filter=Q(outcome=failed)),
            )
            .order_by("day")
        )
        by_day = {row["day"]: row for row in per_day}
        chart = [
            {
                "day": day,
                "sent": by_day.get(day, {}).get("sent", 0),
                "failed": by_day.get(day, {}).get("failed", 0),
            }
            for day in (first_day + timedelta(days=n) for n in range(days))
        ]
        sent_total = sum(row["sent"] for row in chart)
        failed_total = sum(row["failed"] for row in chart)
        done = sent_total + failed_total
        data.update(
            mailings_total=mailings["total"],
            mailings_active=mailings["active"],
            clients_total=visible_clients(user).count(),
            deliveries_sent=sent_total,
            deliveries_failed=failed_total,
            success_rate=round(100 * sent_total / done, 1) if done else None,
            per_day=chart,
            recent_attempts=list(
                visible_attempts(user)
                .select_related("mailing__message")
                .order_by("-attempted_at")[:8]
            ),
        )
    if sees_everything(user, User):
        data["newest_users"] = list(User.objects.order_by("-date_joined")[:5])
    if user.has_perm("blog.view_post"):
        data["posts"] = Post.objects.aggregate(
            total=Count("pk"),
            published=Count(
                "pk",
                filter=Q(is_published=True, published_at__lte=timezone.now()),
            ),
            views=Coalesce(Sum("views_count"), 0),
        )
    return data
