"""Reads: the one place that decides which mailing objects a person may see.

A user sees what they hold object permissions for (given to the owner on create);
managers and superusers see everything through model-level "view" permissions.
"""

from __future__ import annotations

from django.db.models import Model, QuerySet
from guardian.shortcuts import get_objects_for_user

from apps.mailings.models import Attempt, Client, Delivery, Mailing, Message


def sees_everything(user, model: type[Model]) -> bool:
    """Managers and superusers: a model-level view permission."""
    opts = model._meta
    return user.is_active and user.has_perm(f"{opts.app_label}.view_{opts.model_name}")


def visible(user, model: type[Model], action: str = "view") -> QuerySet:
    """The objects of `model` that `user` may `action` (view, change, delete)."""
    opts = model._meta
    qs = model._default_manager.all()
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}"):
        return qs
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
    return Delivery.objects.filter(attempt__in=visible_attempts(user))


def owned_clients(owner) -> QuerySet[Client]:
    """What a mailing of `owner` may include: the owner's own clients only."""
    return Client.objects.filter(owner=owner)


def owned_messages(owner) -> QuerySet[Message]:
    return Message.objects.filter(owner=owner)
