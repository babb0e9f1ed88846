"""Retention: old per-recipient ledger rows go, each attempt's summary stays."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps.mailings.models import Attempt, Delivery

BATCH = 5000


def old_attempts(*, older_than_days: int) -> QuerySet[Attempt]:
    """Finished attempts whose run ended more than `older_than_days` ago."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    return Attempt.objects.filter(finished_at__isnull=False, finished_at__lt=cutoff)


def deliveries_purge(
    *,
    older_than_days: int,
    with_attempts: bool = False,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Delete the deliveries (and with `with_attempts`, the attempts) of old runs.

    Works in batches of primary keys so a table of millions never sits in one
    transaction or in memory. Returns (deliveries deleted, attempts deleted).
    """
    attempts = old_attempts(older_than_days=older_than_days)
    deleted = 0
    while True:
        ids = list(
            Delivery.objects.filter(attempt__in=attempts).values_list("pk", flat=True)[
                :BATCH
            ]
        )
        if not ids:
            break
        with transaction.atomic():
            deleted += Delivery.objects.filter(pk__in=ids).delete()[0]
        if progress:
            progress(len(ids))
    attempts_deleted = 0
    if with_attempts:
        while True:
            ids = list(attempts.values_list("pk", flat=True)[:BATCH])
            if not ids:
                break
            with transaction.atomic():
                # Cascades to the attempt's object permissions.
                Attempt.objects.filter(pk__in=ids).delete()
            attempts_deleted += len(ids)
    return deleted, attempts_deleted
