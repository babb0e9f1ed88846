"""Subscriptions through a list's public form: the request, the confirmation mail
(double opt-in) and its single-use link.

What the visitor is told never depends on the address (no enumeration): every
valid request gets the same answer, and what happens is decided here, quietly:

* a new address joins at once, or, when the list asks for double opt-in, joins
  as ``unconfirmed`` and is mailed a confirmation link;
* an address that left (unsubscribed from the list, from the sender, or has the
  owner's ``unsubscribed`` suppression) is only ever taken back through the
  link: proof that the request comes from the mailbox itself. Confirming removes
  that suppression: re-subscribing is the recipient's own way to undo it;
* an address already subscribed gets nothing; one suppressed site-wide (hard
  bounce, complaint) or by the owner's own hand gets nothing either.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from apps.audiences.models import ClientList, Subscription, Suppression
from apps.core import permissions
from apps.mailings.models import Client

logger = logging.getLogger(__name__)

# Signatures of confirmation links are made with this salt only: they never
# verify as any other signed value of the site, nor the other way round.
TOKEN_SALT = "apps.audiences.public.subscription-confirm"
# One confirmation mail per subscription per this many seconds, whatever the
# number of requests: the form must not become a way to flood a mailbox.
MAIL_INTERVAL = 60


def public_lists() -> Any:
    """Lists whose public form is open: public, of an owner who may send."""
    return ClientList.objects.filter(
        is_public=True, owner__is_active=True, owner__is_blocked=False
    ).select_related("owner")


# --- the request ---------------------------------------------------------------------


def _client_for(*, owner: Any, email: str, full_name: str) -> Client:
    """The owner's client of that address, made when missing (an existing client's
    name is never changed by an anonymous form)."""
    key = email.lower()
    clients = Client.objects.filter(owner=owner).annotate(key=Lower("email"))
    known = clients.filter(key=key).first()
    if known is not None:
        return known
    try:
        with transaction.atomic():
            client = Client.objects.create(
                owner=owner, email=email, full_name=full_name
            )
    except IntegrityError:
        # Made meanwhile by another request (or an import) for the same address.
        return clients.get(key=key)
    permissions.owner_permissions_grant(owner=owner, objects=client)
    return client


def _suppressions(owner: Any, email: str) -> set[str]:
    """Reasons this address is suppressed for the owner ("sitewide" for any
    entry without an owner)."""
    entries = (
        Suppression.objects.annotate(key=Lower("email"))
        .filter(key=email.lower())
        .filter(Q(owner=owner) | Q(owner__isnull=True))
        .values_list("owner_id", "reason")
    )
    return {"sitewide" if owner_id is None else reason for owner_id, reason in entries}


def subscription_request(
    *, client_list: ClientList, email: str, full_name: str = "", language: str = ""
) -> None:
    """What a valid submission of the public form does (see the module's rules).
    Mail is queued once the transaction commits."""
    owner = client_list.owner
    reasons = _suppressions(owner, email)
    if reasons - {Suppression.Reason.UNSUBSCRIBED}:
        # Bounced, complained, or kept out by the owner: nobody is mailed.
        return
    with transaction.atomic():
        client = _client_for(owner=owner, email=email, full_name=full_name)
        subscription, created = Subscription.objects.get_or_create(
            client=client,
            client_list=client_list,
            defaults={"status": Subscription.Status.UNCONFIRMED},
        )
        left = (
            bool(reasons)
            or client.is_unsubscribed
            or subscription.status == Subscription.Status.UNSUBSCRIBED
        )
        if subscription.status == Subscription.Status.SUBSCRIBED and not left:
            return
        if not client_list.double_opt_in and not left:
            Subscription.objects.filter(pk=subscription.pk).update(
                status=Subscription.Status.SUBSCRIBED
            )
            return
        _queue_confirmation(subscription_id=subscription.pk, language=language)


def _queue_confirmation(*, subscription_id: int, language: str) -> None:
    from django_q.tasks import async_task

    key = f"audiences:confirm-mail:{subscription_id}"
    now = time.time()
    last = cache.get(key)
    if last is not None and now - last < MAIL_INTERVAL:
        return
    cache.set(key, now, MAIL_INTERVAL * 2)
    transaction.on_commit(
        lambda: async_task(
            "apps.audiences.public_services.send_subscription_confirmation",
            subscription_id,
            language,
            group="subscription-mail",
        )
    )


# --- the link ------------------------------------------------------------------------


def _state(subscription: Subscription) -> str:
    """What the link is made for: it dies once this changes (a confirmation sets
    ``confirmed_at``, an unsubscribe changes the status)."""
    confirmed = (
        subscription.confirmed_at.isoformat() if subscription.confirmed_at else ""
    )
    return f"{subscription.status}|{confirmed}"


def confirmation_token(subscription: Subscription) -> str:
    return signing.dumps(
        {"s": subscription.pk, "v": _state(subscription)}, salt=TOKEN_SALT
    )


def _max_age() -> int:
    return settings.MAILSHOT_CONFIRMATION_MAX_AGE_DAYS * 24 * 60 * 60


def subscription_from_token(token: str) -> Subscription | None:
    """The subscription a link is for, while the link is valid: signed with our
    salt, younger than MAILSHOT_CONFIRMATION_MAX_AGE_DAYS, never used."""
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=_max_age())
        pk, state = int(data["s"]), str(data["v"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    subscription = (
        Subscription.objects.select_related("client", "client_list")
        .filter(pk=pk)
        .first()
    )
    if subscription is None or _state(subscription) != state:
        return None
    return subscription


def subscription_confirm(*, token: str) -> Subscription | None:
    """Confirm the subscription of a valid link (once: a conditional UPDATE on the
    state the link was made for decides), and undo the recipient's own earlier
    unsubscribe from this sender. None when the link is not (or no longer) valid."""
    subscription = subscription_from_token(token)
    if subscription is None:
        return None
    now = timezone.now()
    client = subscription.client
    with transaction.atomic():
        taken = Subscription.objects.filter(
            pk=subscription.pk,
            status=subscription.status,
            confirmed_at=subscription.confirmed_at,
        ).update(status=Subscription.Status.SUBSCRIBED, confirmed_at=now)
        if not taken:
            return None
        Suppression.objects.annotate(key=Lower("email")).filter(
            owner_id=client.owner_id,
            reason=Suppression.Reason.UNSUBSCRIBED,
            key=client.email.lower(),
        ).delete()
        Client.objects.filter(pk=client.pk, is_unsubscribed=True).update(
            is_unsubscribed=False, unsubscribed_at=None, updated_at=now
        )
    subscription.status, subscription.confirmed_at = (
        Subscription.Status.SUBSCRIBED,
        now,
    )
    return subscription


# --- the mail ------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfirmationMail:
    subject: str
    text: str
    html: str


def confirmation_url(subscription: Subscription) -> str:
    path = reverse("audiences:confirm", args=[confirmation_token(subscription)])
    return f"{settings.SITE_URL}{path}"


def confirmation_email(subscription: Subscription) -> EmailMultiAlternatives:
    """The double opt-in mail, built from templates
    ``audiences/public/emails/confirm{_subject.txt,.txt,.html}``."""
    context = {
        "client_list": subscription.client_list,
        "confirmation_url": confirmation_url(subscription),
        "max_age_days": settings.MAILSHOT_CONFIRMATION_MAX_AGE_DAYS,
        "site_url": settings.SITE_URL,
    }
    subject = " ".join(
        render_to_string("audiences/public/emails/confirm_subject.txt", context).split()
    )
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("audiences/public/emails/confirm.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[subscription.client.email],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(
        render_to_string("audiences/public/emails/confirm.html", context), "text/html"
    )
    return message


def send_subscription_confirmation(subscription_id: int, language: str = "") -> None:
    """Task: mail the confirmation link (made here, in the worker, so no link is
    stored in the queue). Nothing when the subscription is gone or confirmed."""
    from apps.users.tasks import send_with_retries

    subscription = (
        Subscription.objects.select_related("client", "client_list")
        .filter(pk=subscription_id)
        .first()
    )
    if subscription is None:
        return
    if (
        subscription.status == Subscription.Status.SUBSCRIBED
        and subscription.confirmed_at is not None
        and not subscription.client.is_unsubscribed
    ):
        return  # confirmed through an earlier mail meanwhile
    with translation.override(language or settings.LANGUAGE_CODE):
        message = confirmation_email(subscription)
    send_with_retries(message)
