"""Reads: the one place that decides which mailing objects a person may see.

A user sees what they hold object permissions for (given to the owner on create);
managers and superusers see everything through model-level "view" permissions.
"""

from __future__ import annotations

from django.contrib.auth.models import Permission
from django.db.models import Exists, Model, OuterRef, Q, QuerySet, Subquery
from guardian.shortcuts import get_objects_for_user
from guardian.utils import get_user_obj_perms_model

from apps.mailings.models import (
    Attempt,
    Client,
    ClientImport,
    Delivery,
    Mailing,
    Message,
)


def sees_everything(user, model: type[Model]) -> bool:
    """Managers and superusers: a model-level view permission."""
    opts = model._meta
    return user.is_active and user.has_perm(f"{opts.app_label}.view_{opts.model_name}")


# Who owns an object of each model: object permissions are only ever given to the
# owner, so "mine and I hold the permission" is the same set as guardian's answer.
OWNER_PATHS = {"client": "owner", "message": "owner", "mailing": "owner"}
OWNER_PATHS["attempt"] = "mailing__owner"


def _owned_by(user, model: type[Model], owner_path: str):
    if "__" not in owner_path:
        return Q(**{owner_path: user})
    # An attempt's owner is its mailing's: checked per row (EXISTS) rather than
    # joined, so that SQLite, which has no statistics, still reads the list newest
    # first along the attempted_at index instead of sorting all of someone's
    # 100,000 attempts for a page of 50.
    relation, field = owner_path.split("__", 1)
    related = model._meta.get_field(relation).related_model
    return Exists(
        related._default_manager.filter(pk=OuterRef(f"{relation}_id"), **{field: user})
    )


def visible(user, model: type[Model], action: str = "view") -> QuerySet:
    """The objects of `model` that `user` may `action` (view, change, delete)."""
    opts = model._meta
    qs = model._default_manager.all()
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}"):
        return qs
    owner_path = OWNER_PATHS.get(opts.model_name)
    if owner_path is not None:
        # Guardian's get_objects_for_user answers `pk IN (SELECT object ids ...)`:
        # with 100,000 objects the database builds that whole set before ordering
        # and cutting a page. Filtering on the owner lets the (owner, ...) indexes
        # give a page in order, and the permission row is checked per object.
        permission = Permission.objects.filter(
            content_type__app_label=opts.app_label,
            content_type__model=opts.model_name,
            codename=f"{action}_{opts.model_name}",
        ).values("pk")[:1]
        holds = get_user_obj_perms_model(model).objects.filter(
            user=user,
            permission_id=Subquery(permission),
            content_object_id=OuterRef("pk"),
        )
        return qs.filter(_owned_by(user, model, owner_path), Exists(holds))
    return get_objects_for_user(
        user,
        f"{opts.app_label}.{action}_{opts.model_name}",
        klass=qs,
        use_groups=False,
        with_superuser=False,
        accept_global_perms=False,
    )


def can(user, action: str, obj: Model) -> bool:
    """One object-level check that agrees with `visible` (guardian + model perms)."""
    opts = obj._meta
    perm = f"{opts.app_label}.{action}_{opts.model_name}"
    if not user.is_authenticated or not user.is_active:
        return False
    return user.has_perm(perm) or user.has_perm(perm, obj)


def visible_clients(user) -> QuerySet[Client]:
    return visible(user, Client)


def visible_messages(user) -> QuerySet[Message]:
    return visible(user, Message)


def visible_mailings(user) -> QuerySet[Mailing]:
    return visible(user, Mailing)


def visible_attempts(user) -> QuerySet[Attempt]:
    return visible(user, Attempt)


def visible_deliveries(user) -> QuerySet[Delivery]:
    if sees_everything(user, Delivery):
        return Delivery.objects.all()
    # Checked per delivery (EXISTS) rather than `attempt IN (every visible
    # attempt)`: a day's deliveries are few, a person's attempts may be 100,000.
    return Delivery.objects.filter(
        Exists(visible_attempts(user).filter(pk=OuterRef("attempt_id")))
    )


def visible_clients_count(user) -> int:
    """How many clients `user` sees, read from the (owner, e-mail) index alone.

    Object permissions are given to the owner only, so a user's clients are their
    own; checking the permission row of each of 100,000 clients would only slow it.
    """
    if sees_everything(user, Client):
        return Client.objects.count()
    if not user.is_authenticated or not user.is_active:
        return 0
    return owned_clients(user).count()


def owned_clients(owner) -> QuerySet[Client]:
    """What a mailing of `owner` may include: the owner's own clients only."""
    return Client.objects.filter(owner=owner)


def owned_messages(owner) -> QuerySet[Message]:
    return Message.objects.filter(owner=owner)


def recent_attempts(user, *, since, limit: int = 8) -> QuerySet[Attempt]:
    """The newest runs `user` sees, started since `since` (the dashboard's list).

    Read newest first along the attempted_at index, each row checked (EXISTS) for
    being the person's: ordering 100,000 of someone's runs to keep 8 would cost
    far more than reading the newest runs until 8 of theirs turn up.
    """
    attempts = Attempt.objects.filter(attempted_at__gte=since)
    if not sees_everything(user, Attempt):
        if not user.is_authenticated or not user.is_active:
            return attempts.none()
        permission = Permission.objects.filter(
            content_type__app_label="mailings",
            content_type__model="attempt",
            codename="view_attempt",
        ).values("pk")[:1]
        attempts = attempts.filter(
            Exists(Mailing.objects.filter(pk=OuterRef("mailing_id"), owner=user)),
            Exists(
                get_user_obj_perms_model(Attempt).objects.filter(
                    user=user,
                    permission_id=Subquery(permission),
                    content_object_id=OuterRef("pk"),
                )
            ),
        )
    return attempts.select_related("mailing__message").order_by("-attempted_at")[:limit]


def may_list_attempts(user) -> bool:
    """The attempt list and its reports: managers (model "view") and owners, whose
    role is marked by "add mailing" (their runs come as object permissions)."""
    return user.is_active and (
        user.has_perm("mailings.view_attempt") or user.has_perm("mailings.add_mailing")
    )


def visible_client_imports(user) -> QuerySet[ClientImport]:
    """Import jobs: the person who uploaded the file, and superusers. Not managers:
    a job's report quotes rows of someone's file."""
    if not user.is_authenticated or not user.is_active:
        return ClientImport.objects.none()
    if user.is_superuser:
        return ClientImport.objects.all()
    return ClientImport.objects.filter(owner=user)
