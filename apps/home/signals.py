"""Mailing and client changes drop the cached home statistics."""

from typing import Any

from django.db import transaction
from django.db.models import Model
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from apps.core.deletion import objects_deleted
from apps.home.selectors import home_statistics_forget
from apps.mailings.models import Client, Mailing


@receiver(post_save, sender=Mailing, dispatch_uid="home_mailing_saved")
@receiver(post_delete, sender=Mailing, dispatch_uid="home_mailing_deleted")
@receiver(post_save, sender=Client, dispatch_uid="home_client_saved")
@receiver(post_delete, sender=Client, dispatch_uid="home_client_deleted")
@receiver(m2m_changed, sender=Mailing.clients.through, dispatch_uid="home_m2m")
@receiver(objects_deleted, sender=Mailing, dispatch_uid="home_mailings_deleted")
@receiver(objects_deleted, sender=Client, dispatch_uid="home_clients_deleted")
def mailing_data_changed(sender: type[Model], **kwargs: Any) -> None:
    home_statistics_forget()
    # Again after commit: a reader in between may have cached the old numbers.
    transaction.on_commit(home_statistics_forget)
