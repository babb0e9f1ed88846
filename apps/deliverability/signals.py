"""The every-minute read of the bounce mailbox, present when one is configured."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate

SCHEDULE_NAME = "deliverability-fetch-bounces"


def ensure_bounce_schedule(*, using: str = "default") -> None:
    from django_q.models import Schedule

    from apps.deliverability.conf import mailbox

    if mailbox() is None:
        Schedule.objects.using(using).filter(name=SCHEDULE_NAME).delete()
        return
    Schedule.objects.using(using).update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": "apps.deliverability.tasks.fetch_bounces",
            "args": None,
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )


FLUSH_SCHEDULE_NAME = "deliverability-flush-tracking"


def ensure_flush_schedule(*, using: str = "default") -> None:
    """With Redis, the web servers buffer opens and clicks there; the cluster writes
    them every minute. Without it each web process flushes its own buffer."""
    from django.conf import settings
    from django_q.models import Schedule

    if not getattr(settings, "REDIS_URL", ""):
        Schedule.objects.using(using).filter(name=FLUSH_SCHEDULE_NAME).delete()
        return
    Schedule.objects.using(using).update_or_create(
        name=FLUSH_SCHEDULE_NAME,
        defaults={
            "func": "apps.deliverability.tasks.flush_tracking",
            "args": None,
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )


def _after_migrate(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    if sender.label == "deliverability":
        ensure_bounce_schedule(using=using)
        ensure_flush_schedule(using=using)


def connect(app: AppConfig) -> None:
    post_migrate.connect(_after_migrate, sender=app, dispatch_uid="deliverability")
