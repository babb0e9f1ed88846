"""Model hooks of the sending engine, connected in MailingsConfig.ready()."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_migrate, post_save
from django.dispatch import receiver

from apps.mailings.models import Mailing


@receiver(post_save, sender=Mailing, dispatch_uid="mailings.mailing_saved")
def mailing_saved(sender, instance: Mailing, created: bool, raw: bool = False, **kw):
    """Creating, editing or re-enabling a mailing (re)plans its next run.

    Works for every save path (admin, services, shell); fixtures (`raw`) are left
    alone so loaddata sends nothing by itself.
    """
    if raw:
        return
    from apps.mailings.services import mailing_plan_next_run

    mailing_plan_next_run(mailing=instance)


@receiver(post_delete, sender=Mailing, dispatch_uid="mailings.mailing_deleted")
def mailing_deleted(sender, instance: Mailing, **kwargs) -> None:
    """Its one-off start schedule goes with it."""
    from apps.mailings.sending import schedule_mailing_start

    schedule_mailing_start(instance.pk, None)


def install_tick_schedule(sender, using="default", **kwargs) -> None:
    """After `migrate`: the every-minute scheduler tick exists (idempotent)."""
    from django.db import DEFAULT_DB_ALIAS

    if using != DEFAULT_DB_ALIAS:
        return
    from apps.mailings.sending import ensure_tick_schedule

    ensure_tick_schedule()


def connect(app_config) -> None:
    post_migrate.connect(
        install_tick_schedule,
        sender=app_config,
        dispatch_uid="mailings.install_tick_schedule",
    )
