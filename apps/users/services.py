"""Writes for accounts: blocking here; registration and confirmation below."""

from __future__ import annotations

import time
from datetime import timedelta
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.cache import cache, caches
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core import permissions
from apps.users import session_notices
from apps.users.models import User
from apps.users.roles import USERS


def user_can_be_blocked_by(*, user: User, actor: User) -> bool:
    """Superusers block anyone but superusers and themselves; managers block Users.

    A manager oversees the people who send mail: members of ``Users`` and accounts
    still waiting for confirmation (no group yet). Managers, content editors and anyone
    holding another role answer to a superuser, so a manager cannot lock them out.
    """
    if user.pk == actor.pk or user.is_superuser:
        return False
    if actor.is_superuser:
        return True
    if not permissions.may(actor, "block", User):
        return False
    return not user.groups.exclude(name=USERS).exists()


def users_block(*, users: list[User], actor: User) -> list[User]:
    """Block these people, and end their open sessions (one pass for all of them)."""
    for user in users:
        if not user_can_be_blocked_by(user=user, actor=actor):
            raise PermissionDenied(
                _("You cannot block %(email)s.") % {"email": user.email}
            )
    now = timezone.now()
    User.objects.filter(pk__in=[u.pk for u in users]).update(
        is_blocked=True, blocked_at=now
    )
    for user in users:
        user.is_blocked, user.blocked_at = True, now
    sessions_delete(user_ids={u.pk for u in users})
    return users


def user_block(*, user: User, actor: User) -> User:
    return users_block(users=[user], actor=actor)[0]


def sessions_delete(*, user_ids: set[int]) -> int:
    """End every session of these people; returns how many there were.

    The backend refuses a blocked person's session, but only while they are blocked:
    kept sessions would work again the moment they are unblocked. Session rows carry
    their user's id (``UserSession.user_id``, indexed; apps/users/sessions.py), so
    this is one indexed query for their keys and one delete, whatever the number of
    other people's sessions. A cache or cookie engine can't be searched: 0.
    """
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    if not hasattr(store_class, "get_model_class"):
        return 0  # a cache or cookie store can't be searched; the backend still refuses
    model = store_class.get_model_class()
    if not any(field.name == "user_id" for field in model._meta.concrete_fields):
        return _sessions_delete_by_decoding(store_class, user_ids=user_ids)
    theirs = model.objects.filter(user_id__in=user_ids)
    doomed = list(theirs.values_list("session_key", flat=True))
    if not doomed:
        return 0
    # By user, not by key: a session they started since the read goes too.
    theirs.delete()
    if hasattr(store_class, "cache_key_prefix"):  # a cached_db store keeps a copy
        caches[settings.SESSION_CACHE_ALIAS].delete_many(
            [store_class(session_key=key).cache_key for key in doomed]
        )
    # Their next request is told why they were signed out.
    session_notices.sessions_mark_ended(keys=doomed)
    return len(doomed)


def _sessions_delete_by_decoding(store_class: Any, *, user_ids: set[int]) -> int:
    """For a database engine without the user column (Django's own): decode each
    live session, about 1 s per 10,000 of them."""
    sessions = store_class.get_model_class().objects.filter(
        expire_date__gt=timezone.now()
    )
    wanted = {str(pk) for pk in user_ids}
    store = store_class()
    doomed = [
        key
        for key, data in sessions.values_list("session_key", "session_data").iterator(
            chunk_size=2000
        )
        if store.decode(data).get(SESSION_KEY) in wanted
    ]
    for key in doomed:
        store_class(session_key=key).delete()  # also drops a cached_db copy
    session_notices.sessions_mark_ended(keys=doomed)
    return len(doomed)


def user_unblock(*, user: User, actor: User) -> User:
    if not user_can_be_blocked_by(user=user, actor=actor):
        raise PermissionDenied(
            _("You cannot unblock %(email)s.") % {"email": user.email}
        )
    User.objects.filter(pk=user.pk).update(is_blocked=False, blocked_at=None)
    user.is_blocked, user.blocked_at = False, None
    return user


# --- Registration and confirmation ---------------------------------------------------


# Seconds between two account mails of one kind to one account.
ACCOUNT_MAIL_INTERVAL = 60


def _queue_account_email(*, task: str, user_id: int, language: str | None) -> None:
    """Queue an account mail once the surrounding transaction has committed.

    One mail of each kind per account per minute: the registration, re-send and
    password-reset forms must not become a way to flood someone's mailbox.
    """
    from django_q.tasks import async_task

    # The time is kept in the value rather than trusted to the cache's expiry: the
    # file cache and Redis age keys differently, and a clock (or test) decides here.
    key = f"users:account-mail:{task}:{user_id}"
    now = time.time()
    last = cache.get(key)
    if last is not None and now - last < ACCOUNT_MAIL_INTERVAL:
        return
    cache.set(key, now, ACCOUNT_MAIL_INTERVAL * 2)
    transaction.on_commit(
        lambda: async_task(
            f"apps.users.tasks.{task}", user_id, language, group="account-mail"
        )
    )


def user_register(
    *,
    email: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    language: str | None = None,
    time_zone: str = "UTC",
) -> None:
    """Register an address, or tell its owner they already have an account.

    Returns nothing on purpose: the caller must answer the same either way, so that
    registration does not reveal which addresses are taken. Both paths hash the
    password, which keeps their timing alike.
    """
    email = User.objects.normalize_email(email).strip().lower()
    existing = User.objects.filter(email__iexact=email).first()
    if existing is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    email=email,
                    password=password,
                    first_name=first_name,
                    last_name=last_name,
                    is_staff=False,
                    email_confirmed=False,
                    time_zone=time_zone,
                )
        except IntegrityError:
            # Registered a moment ago by a concurrent request.
            existing = User.objects.get(email__iexact=email)
        else:
            _queue_account_email(
                task="send_confirmation_email", user_id=user.pk, language=language
            )
            return
    if is_pending_registration(existing):
        # The latest registration replaces a pending one, so whoever registered last
        # confirms by typing their own password again. That gives nobody the account:
        # confirming needs the mailed link *and* a password typed on its page.
        existing.set_password(password)
        existing.first_name, existing.last_name = first_name, last_name
        existing.time_zone = time_zone
        # A pending account's "joined" time is its latest registration or link:
        # the purge of unconfirmed accounts counts from there.
        existing.date_joined = timezone.now()
        existing.save(
            update_fields=[
                "password", "first_name", "last_name", "date_joined", "time_zone"
            ]
        )  # fmt: skip
    else:
        make_password(password)
    _queue_account_email(
        task="send_already_registered_email", user_id=existing.pk, language=language
    )


def user_resend_confirmation(*, email: str, language: str | None = None) -> None:
    """Send a fresh link to an unconfirmed address; silently nothing otherwise."""
    email = User.objects.normalize_email(email).strip().lower()
    user = User.objects.filter(
        email__iexact=email, email_confirmed=False, is_active=True
    ).first()
    if user is not None:
        if is_pending_registration(user):
            User.objects.filter(pk=user.pk).update(date_joined=timezone.now())
        _queue_account_email(
            task="send_confirmation_email", user_id=user.pk, language=language
        )


def users_purge_unconfirmed() -> int:
    """Delete registrations nobody confirmed, a day after their last link expired.

    A pending account can do nothing, yet anyone can make one for any address; kept,
    they would pile up (and keep the address looking taken). Accounts a superuser
    made, or anyone who ever logged in, are left alone.
    """
    max_age = timedelta(days=settings.MAILSHOT_CONFIRMATION_MAX_AGE_DAYS + 1)
    expired = User.objects.filter(
        email_confirmed=False,
        is_staff=False,
        is_superuser=False,
        last_login__isnull=True,
        date_joined__lt=timezone.now() - max_age,
    )
    _total, per_model = expired.delete()
    return per_model.get(User._meta.label, 0)


def user_request_password_reset(*, user: User, language: str | None = None) -> None:
    _queue_account_email(
        task="send_password_reset_email", user_id=user.pk, language=language
    )


def is_pending_registration(user: User) -> bool:
    """Registered on the site and never confirmed (nor vouched for by a superuser)."""
    return not (user.email_confirmed or user.is_staff or user.last_login)


@transaction.atomic
def user_confirm_email(*, user: User, password: str | None = None) -> User:
    """Mark the address confirmed and make the person a member of the Users group.

    ``password`` is the one typed on the confirmation page, by whoever opened the
    mailed link: it becomes the only password of the account, so a password someone
    else chose when registering this address stops working (account pre-hijack).
    Confirmed people work in the admin, so they become staff; what they may see there
    is decided by the group and their object permissions.
    """
    fields: dict[str, bool | str] = {"email_confirmed": True, "is_staff": True}
    if password is not None:
        user.set_password(password)
        fields["password"] = user.password
    User.objects.filter(pk=user.pk).update(**fields)
    user.email_confirmed, user.is_staff = True, True
    user.groups.add(Group.objects.get(name=USERS))
    return user


def login_refusal_reason(*, email: str, password: str) -> str | None:
    """Why a login with these credentials was refused, if the password was right.

    Only someone who knows the password learns that the account is blocked or
    unconfirmed; anyone else gets Django's usual "wrong e-mail or password". The
    password is hashed whether or not the address exists, so the answer takes as
    long either way.
    """
    user = User.objects.filter(email__iexact=(email or "").strip()).first()
    if user is None:
        make_password(password)
        return None
    if not user.check_password(password) or not user.is_active:
        return None
    if user.is_blocked:
        return "blocked"
    if not user.email_confirmed and not user.is_superuser:
        return "unconfirmed"
    return None
