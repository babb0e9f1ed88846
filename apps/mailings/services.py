"""Writes for clients, messages and mailings. Every object gets its owner's object
permissions here, in bulk where many are made."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Model
from django.utils import timezone
from django_q.tasks import async_task

from apps.audiences.services import recipient_unsubscribed
from apps.core import permissions
from apps.mailings import scheduling
from apps.mailings.models import Attempt, Client, Mailing, Message
from apps.users.models import User


def grant_owner_permissions(*, owner: User, objects: Model | Iterable[Model]) -> None:
    """Give `owner` the object permissions of their new `objects` (in bulk for a
    queryset or list); which ones is the permission module's business."""
    permissions.owner_permissions_grant(owner=owner, objects=objects)


@transaction.atomic
def client_create(
    *, owner: User, email: str, full_name: str = "", comment: str = ""
) -> Client:
    client = Client(
        owner=owner, email=email.strip(), full_name=full_name, comment=comment
    )
    client.full_clean()
    client.save()
    grant_owner_permissions(owner=owner, objects=client)
    return client


@transaction.atomic
def message_create(*, owner: User, subject: str, body: str) -> Message:
    message = Message(owner=owner, subject=subject, body=body)
    message.full_clean()
    message.save()
    grant_owner_permissions(owner=owner, objects=message)
    return message


def attempt_created(*, attempt: Attempt) -> None:
    grant_owner_permissions(owner=attempt.mailing.owner, objects=attempt)


def mailing_set_enabled(*, mailing: Mailing, enabled: bool) -> Mailing:
    Mailing.objects.filter(pk=mailing.pk).update(is_enabled=enabled)
    mailing.is_enabled = enabled
    if enabled:
        # Re-enabled inside its window: the run starts now (in the background).
        mailing_plan_next_run(mailing=mailing)
    return mailing


def mailing_save(*, mailing: Mailing) -> Mailing:
    """Save a mailing made or edited in a form, and everything that follows from it.

    This is the one write path of a mailing (the admin's ``save_model`` calls it):
    the row is saved; a new mailing gives its owner their object permissions; and
    its next run is planned (see ``mailing_plan_next_run``) once the transaction
    commits, so the clients saved after it in the same request are part of the run.
    """
    created = mailing._state.adding
    mailing.save()
    if created:
        grant_owner_permissions(owner=mailing.owner, objects=mailing)
    mailing_plan_next_run(mailing=mailing)
    return mailing


def mailing_send_now(*, mailing: Mailing) -> None:
    """Queue a run of `mailing` once the current transaction commits (never inline)."""
    transaction.on_commit(
        lambda: async_task("apps.mailings.tasks.run_mailing", mailing.pk)
    )


def mailing_plan_next_run(*, mailing: Mailing) -> None:
    """After a mailing is created, edited or re-enabled: plan its next run.

    A mailing that has not run yet starts at ``start_at``. If that time has come
    (inside the window) a run is queued once the transaction commits — never sent
    inside the request; otherwise a one-off schedule starts it at ``start_at``.
    """
    if mailing.status == Mailing.Status.CREATED and mailing.next_run_at != (
        mailing.start_at
    ):
        Mailing.objects.filter(pk=mailing.pk, status=Mailing.Status.CREATED).update(
            next_run_at=mailing.start_at
        )
        mailing.next_run_at = mailing.start_at
    when = mailing.next_run_at
    if (
        when is None
        or not mailing.is_enabled
        or mailing.status == Mailing.Status.FINISHED
        or when >= mailing.end_at
    ):
        return
    mailing_id = mailing.pk
    if when <= timezone.now():
        transaction.on_commit(
            lambda: async_task("apps.mailings.tasks.run_due_mailing", mailing_id)
        )
    else:
        transaction.on_commit(
            lambda: scheduling.schedule_mailing_start(mailing_id, when)
        )


@transaction.atomic
def client_unsubscribe(*, client: Client, source: str = "") -> Client:
    """The recipient asked to receive nothing more from this sender (idempotent).

    Recorded as the owner's suppression of the address (reason "unsubscribed"), which
    the owner cannot remove: only the recipient's subscribing again lifts it."""
    now = timezone.now()
    Client.objects.filter(pk=client.pk, is_unsubscribed=False).update(
        is_unsubscribed=True, unsubscribed_at=now, updated_at=now
    )
    client.refresh_from_db(fields=["is_unsubscribed", "unsubscribed_at"])
    recipient_unsubscribed(client=client, source=source)
    return client


def grant_owner_permissions_new(
    *, owner: User, model: type[Model], ids: list[int]
) -> None:
    """Like ``grant_owner_permissions``, for objects just created in bulk."""
    permissions.owner_permissions_grant_new(owner=owner, model=model, ids=ids)
