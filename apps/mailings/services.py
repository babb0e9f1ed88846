"""Writes for clients, messages and mailings. Every object gets its owner's object
permissions here, in bulk where many are made."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext
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


def mailing_set_paused(*, mailing: Mailing, paused: bool) -> Mailing:
    """The owner's own switch. Pausing stops a run in progress within the engine's
    re-check interval (the rest is skipped, as on disabling); resuming inside the
    window plans the next run like enabling does."""
    Mailing.objects.filter(pk=mailing.pk).update(
        is_paused=paused, updated_at=timezone.now()
    )
    mailing.is_paused = paused
    if not paused:
        mailing_plan_next_run(mailing=mailing)
    return mailing


def copy_name(name: str, *, max_length: int) -> str:
    """“Newsletter” → “Newsletter (copy)”, cut to fit the field."""
    suffix = gettext(" (copy)")
    return name[: max_length - len(suffix)] + suffix


@transaction.atomic
def message_duplicate(*, message: Message) -> Message:
    """A copy of `message` for its owner, named "… (copy)"."""
    max_length = Message._meta.get_field("subject").max_length or 255
    return message_create(
        owner=message.owner,
        subject=copy_name(message.subject, max_length=max_length),
        body=message.body,
    )


@transaction.atomic
def mailing_duplicate(*, mailing: Mailing) -> Mailing:
    """A paused copy of `mailing` (same message, schedule and recipients) for its
    owner: it sends nothing until the owner has looked at it and saved it.

    The manager's switch is kept: a copy of a disabled mailing is disabled too.
    """
    copy = Mailing.objects.create(
        owner=mailing.owner,
        message=mailing.message,
        start_at=mailing.start_at,
        end_at=mailing.end_at,
        periodicity=mailing.periodicity,
        is_enabled=mailing.is_enabled,
        is_paused=True,
    )
    through = Mailing.clients.through
    rows = Mailing.clients.through.objects.filter(mailing_id=mailing.pk).values_list(
        "client_id", flat=True
    )
    through.objects.bulk_create(
        [through(mailing_id=copy.pk, client_id=client_id) for client_id in rows],
        batch_size=1000,
    )
    grant_owner_permissions(owner=copy.owner, objects=copy)
    return copy


def mailing_save(*, mailing: Mailing, resume: bool = False) -> Mailing:
    """Save a mailing made or edited in a form, and everything that follows from it.

    This is the one write path of a mailing (the admin's ``save_model`` calls it):
    the row is saved; a new mailing gives its owner their object permissions; and
    its next run is planned (see ``mailing_plan_next_run``) once the transaction
    commits, so the clients saved after it in the same request are part of the run.
    """
    created = mailing._state.adding
    if not created:
        # The switches are not the form's: a page opened before a manager disabled
        # it (or its owner paused it elsewhere) must not switch it back on.
        switches = (
            Mailing.objects.filter(pk=mailing.pk)
            .values_list("is_enabled", "is_paused")
            .first()
        )
        if switches is not None:
            mailing.is_enabled, mailing.is_paused = switches
    if resume:
        mailing.is_paused = False  # a copy, saved by its owner: it may send now
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


def mailing_plan_next_run(*, mailing: Mailing) -> str:
    """After a mailing is created, edited, re-enabled or resumed: plan its next run.

    A mailing that has not run yet starts at ``start_at``. If that time has come
    (inside the window) a run is queued once the transaction commits — never sent
    inside the request; otherwise a one-off schedule starts it at ``start_at``.
    Returns what was planned: ``"now"``, ``"later"`` or ``""`` (nothing: paused,
    disabled, finished or out of its window).
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
        or mailing.is_paused
        or mailing.status == Mailing.Status.FINISHED
        or when >= mailing.end_at
    ):
        return ""
    mailing_id = mailing.pk
    if when <= timezone.now():
        transaction.on_commit(
            lambda: async_task("apps.mailings.tasks.run_due_mailing", mailing_id)
        )
        return "now"
    transaction.on_commit(lambda: scheduling.schedule_mailing_start(mailing_id, when))
    return "later"


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
