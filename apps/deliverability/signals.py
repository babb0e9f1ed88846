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


def _after_migrate(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    if sender.label == "deliverability":
        ensure_bounce_schedule(using=using)


def connect(app: AppConfig) -> None:
    post_migrate.connect(_after_migrate, sender=app, dispatch_uid="deliverability")
