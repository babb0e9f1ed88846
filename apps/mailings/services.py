"""Writes for clients, messages and mailings. Every object gets its owner's object
permissions here, in bulk where many are made."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task
from guardian.shortcuts import assign_perm

from apps.mailings import scheduling
from apps.mailings.models import Attempt, Client, Mailing, Message
from apps.users.roles import OWNER_PERMISSIONS


def grant_owner_permissions(*, owner, objects: Iterable | object) -> None:
    """Give `owner` the object permissions of OWNER_PERMISSIONS on `objects`.

    A queryset or list is assigned in bulk (one INSERT per permission).
    """
    if isinstance(objects, list | tuple):
        if not objects:
            return
        model = type(objects[0])
        objects = model._default_manager.filter(pk__in=[o.pk for o in objects])
    model = getattr(objects, "model", type(objects))
    for codename in OWNER_PERMISSIONS[model._meta.model_name]:
        assign_perm(f"{model._meta.app_label}.{codename}", owner, objects)


@transaction.atomic
def client_create(
    *, owner, email: str, full_name: str = "", comment: str = ""
) -> Client:
    client = Client(
        owner=owner, email=email.strip(), full_name=full_name, comment=comment
    )
    client.full_clean()
    client.save()
    grant_owner_permissions(owner=owner, objects=client)
    return client


@transaction.atomic
def message_create(*, owner, subject: str, body: str) -> Message:
    message = Message(owner=owner, subject=subject, body=body)
    message.full_clean()
    message.save()
    grant_owner_permissions(owner=owner, objects=message)
    return message


def object_created(*, obj) -> None:
    """Hook for objects saved by an admin form: give the owner their permissions."""
    grant_owner_permissions(owner=obj.owner, objects=obj)


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


def client_unsubscribe(*, client: Client) -> Client:
    """The recipient asked to receive nothing more from this sender (idempotent)."""
    now = timezone.now()
    Client.objects.filter(pk=client.pk, is_unsubscribed=False).update(
        is_unsubscribed=True, unsubscribed_at=now, updated_at=now
    )
    client.refresh_from_db(fields=["is_unsubscribed", "unsubscribed_at"])
    return client


def grant_owner_permissions_new(*, owner, model, ids: list[int]) -> None:
    """Like ``grant_owner_permissions`` for objects just created in bulk: they hold
    no permissions yet, so guardian's per-object check (which loads every object
    once per permission) is skipped, and the rows are made by the database itself
    (INSERT ... SELECT, one statement per chunk of ids for all the permissions):
    for 100,000 imported clients this is most of the import's time otherwise."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection
    from guardian.utils import get_user_obj_perms_model

    if not ids:
        return
    opts = model._meta
    permission_ids = list(
        Permission.objects.filter(
            content_type=ContentType.objects.get_for_model(model),
            codename__in=OWNER_PERMISSIONS[opts.model_name],
        ).values_list("pk", flat=True)
    )
    perm_opts = get_user_obj_perms_model(model)._meta
    q = connection.ops.quote_name
    columns = ", ".join(
        q(perm_opts.get_field(name).column)
        for name in ("user", "permission", "content_object")
    )
    perm_marks = ", ".join(["%s"] * len(permission_ids))
    chunk = 900  # SQLite's limit on query parameters, with room to spare
    with connection.cursor() as cursor:
        for start in range(0, len(ids), chunk):
            part = ids[start : start + chunk]
            cursor.execute(
                f"INSERT INTO {q(perm_opts.db_table)} ({columns}) "  # noqa: S608
                f"SELECT %s, p.{q('id')}, o.{q(opts.pk.column)} "
                f"FROM {q(opts.db_table)} o, {q(Permission._meta.db_table)} p "
                f"WHERE o.{q(opts.pk.column)} IN ({', '.join(['%s'] * len(part))}) "
                f"AND p.{q('id')} IN ({perm_marks})",
                [owner.pk, *part, *permission_ids],
            )
