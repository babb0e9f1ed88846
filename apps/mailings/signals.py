"""Model hooks of the sending engine, connected in MailingsConfig.ready().

Saving a mailing is not hooked here: ``services.mailing_save`` is its one write path.
"""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_delete, post_migrate
from django.dispatch import receiver
from django_q.models import Schedule

from apps.core.deletion import objects_deleted
from apps.mailings import scheduling
from apps.mailings.models import Mailing


@receiver(post_delete, sender=Mailing, dispatch_uid="mailings.mailing_deleted")
def mailing_deleted(sender: type[Mailing], instance: Mailing, **kwargs: Any) -> None:
    """Its one-off start schedule goes with it, whichever way it was deleted (one
    by one, in bulk, or with its owner)."""
    scheduling.schedule_mailing_start(instance.pk, None)


@receiver(objects_deleted, sender=Mailing, dispatch_uid="mailings.mailings_deleted")
def mailings_deleted(sender: type[Mailing], pks: list[int], **kwargs: Any) -> None:
    """The same for mailings deleted in bulk (set-based, without post_delete)."""
    names = [scheduling.schedule_name_for(pk) for pk in pks]
    Schedule.objects.filter(name__in=names).delete()


def install_tick_schedule(
    sender: AppConfig, using: str = DEFAULT_DB_ALIAS, **kwargs: Any
) -> None:
    """After `migrate`: the every-minute scheduler tick exists (idempotent)."""
    if using != DEFAULT_DB_ALIAS:
        return
    scheduling.ensure_tick_schedule()


def connect(app_config: AppConfig) -> None:
    post_migrate.connect(
        install_tick_schedule,
        sender=app_config,
        dispatch_uid="mailings.install_tick_schedule",
    )
