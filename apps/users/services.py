"""Writes for accounts: blocking here; registration and confirmation below."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.users.models import User
from apps.users.roles import MANAGERS


def user_can_be_blocked_by(*, user: User, actor: User) -> bool:
    """Managers block ordinary accounts: not superusers, other managers, themselves."""
    if user.pk == actor.pk or user.is_superuser:
        return False
    if actor.is_superuser:
        return True
    if not actor.has_perm("users.block_user"):
        return False
    return not user.groups.filter(name=MANAGERS).exists()


def user_block(*, user: User, actor: User) -> User:
    if not user_can_be_blocked_by(user=user, actor=actor):
        raise PermissionDenied(_("You cannot block %(email)s.") % {"email": user.email})
    now = timezone.now()
    User.objects.filter(pk=user.pk).update(is_blocked=True, blocked_at=now)
    user.is_blocked, user.blocked_at = True, now
    return user


def user_unblock(*, user: User, actor: User) -> User:
    if not user_can_be_blocked_by(user=user, actor=actor):
        raise PermissionDenied(
            _("You cannot unblock %(email)s.") % {"email": user.email}
        )
    User.objects.filter(pk=user.pk).update(is_blocked=False, blocked_at=None)
    user.is_blocked, user.blocked_at = False, None
    return user
