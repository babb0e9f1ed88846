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
from typing import Any

from cachalot.api import get_last_invalidation
from django.core.cache import cache
from django.db.models import Count, Q
from django.db.models.functions import Lower

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
