"""Subscriptions through a list's public form: the request, the confirmation mail
(double opt-in) and its single-use link.

What the visitor is told never depends on the address (no enumeration): every
valid request gets the same answer, and what happens is decided here, quietly:

* a new address joins at once, or, when the list asks for double opt-in, is
  mailed a confirmation link; nothing about it is written before that link is
  used (no client made by a stranger's typing, none for "all my clients" to
  reach); a client the owner already has waits as ``unconfirmed`` meanwhile;
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


def _known_client(owner: Any, email: str) -> Client | None:
    return (
        Client.objects.filter(owner=owner)
        .annotate(key=Lower("email"))
        .filter(key=email.lower())
        .first()
    )


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
        client = _known_client(owner, email)
        subscription = (
            Subscription.objects.filter(client=client, client_list=client_list).first()
            if client is not None
            else None
        )
        left = (
            bool(reasons)
            or (client is not None and client.is_unsubscribed)
            or (
                subscription is not None
                and subscription.status == Subscription.Status.UNSUBSCRIBED
            )
        )
        if (
            subscription is not None
            and subscription.status == Subscription.Status.SUBSCRIBED
            and not left
        ):
            return
        if not client_list.double_opt_in and not left:
            client = client or _client_for(
                owner=owner, email=email, full_name=full_name
            )
            Subscription.objects.update_or_create(
                client=client,
                client_list=client_list,
                defaults={"status": Subscription.Status.SUBSCRIBED},
            )
            return
        if client is not None and subscription is None:
            # A client the owner has: their request shows on the list, unconfirmed.
            Subscription.objects.get_or_create(
                client=client,
                client_list=client_list,
                defaults={"status": Subscription.Status.UNCONFIRMED},
            )
        _queue_confirmation(
            client_list=client_list, email=email, full_name=full_name, language=language
        )


def _queue_confirmation(
    *, client_list: ClientList, email: str, full_name: str, language: str
) -> None:
    from django_q.tasks import async_task

    key = f"audiences:confirm-mail:{client_list.pk}:{email.lower()}"
    now = time.time()
    last = cache.get(key)
    if last is not None and now - last < MAIL_INTERVAL:
        return
    cache.set(key, now, MAIL_INTERVAL * 2)
    transaction.on_commit(
        lambda: async_task(
            "apps.audiences.public_services.send_subscription_confirmation",
            client_list.pk,
            email,
            full_name,
            language,
            group="subscription-mail",
        )
    )


# --- the link ------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """What a confirmation link asks for: this address (and name) on this list."""

    client_list: ClientList
    email: str
    full_name: str
    state: str


def _state(client_list: ClientList, email: str) -> str:
    """Where the address stands on the list now; a link is made for one state and
    dies once it changes (a confirmation sets ``confirmed_at``, an unsubscribe
    changes the status), so it works once."""
    subscription = (
        Subscription.objects.filter(client_list=client_list)
        .annotate(key=Lower("client__email"))
        .filter(key=email.lower(), client__owner_id=client_list.owner_id)
        .first()
    )
    return "none" if subscription is None else _state_of(subscription)


def _state_of(subscription: Subscription) -> str:
    confirmed = subscription.confirmed_at
    return f"{subscription.status}|{confirmed.isoformat() if confirmed else ''}"


def confirmation_token(client_list: ClientList, email: str, full_name: str) -> str:
    return signing.dumps(
        {
            "l": client_list.pk,
            "e": email,
            "n": full_name,
            "v": _state(client_list, email),
        },
        salt=TOKEN_SALT,
    )


def _max_age() -> int:
    return settings.MAILSHOT_CONFIRMATION_MAX_AGE_DAYS * 24 * 60 * 60


def request_from_token(token: str) -> Request | None:
    """The request a link is for, while the link is valid: signed with our salt,
    younger than MAILSHOT_CONFIRMATION_MAX_AGE_DAYS, never used."""
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=_max_age())
        list_id, email = int(data["l"]), str(data["e"])
        full_name, state = str(data["n"]), str(data["v"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    client_list = ClientList.objects.select_related("owner").filter(pk=list_id).first()
    if client_list is None or _state(client_list, email) != state:
        return None
    return Request(client_list, email, full_name, state)


def subscription_confirm(*, token: str) -> Subscription | None:
    """Subscribe the address of a valid link (once: the state the link was made
    for must still hold, checked again by a conditional UPDATE), making the client
    if the owner has none, and undo the recipient's own earlier unsubscribe from
    this sender. None when the link is not (or no longer) valid."""
    request = request_from_token(token)
    if request is None:
        return None
    client_list, now = request.client_list, timezone.now()
    with transaction.atomic():
        client = _client_for(
            owner=client_list.owner, email=request.email, full_name=request.full_name
        )
        subscription, created = Subscription.objects.get_or_create(
            client=client,
            client_list=client_list,
            defaults={
                "status": Subscription.Status.SUBSCRIBED,
                "confirmed_at": now,
            },
        )
        if not created:
            # The link's state must still hold, and only one confirmation wins.
            taken = _state_of(
                subscription
            ) == request.state and Subscription.objects.filter(
                pk=subscription.pk,
                status=subscription.status,
                confirmed_at=subscription.confirmed_at,
            ).update(status=Subscription.Status.SUBSCRIBED, confirmed_at=now)
            if not taken:
                return None
            subscription.status = Subscription.Status.SUBSCRIBED
            subscription.confirmed_at = now
        Suppression.objects.annotate(key=Lower("email")).filter(
            owner_id=client.owner_id,
            reason=Suppression.Reason.UNSUBSCRIBED,
            key=client.email.lower(),
        ).delete()
        Client.objects.filter(pk=client.pk, is_unsubscribed=True).update(
            is_unsubscribed=False, unsubscribed_at=None, updated_at=now
        )
    subscription.client = client
    return subscription


# --- the mail ------------------------------------------------------------------------


def confirmation_url(client_list: ClientList, email: str, full_name: str) -> str:
    token = confirmation_token(client_list, email, full_name)
    return f"{settings.SITE_URL}{reverse('audiences:confirm', args=[token])}"


def confirmation_email(
    client_list: ClientList, email: str, full_name: str
) -> EmailMultiAlternatives:
    """The double opt-in mail, built from templates
    ``audiences/public/emails/confirm{_subject.txt,.txt,.html}``."""
    context = {
        "client_list": client_list,
        "confirmation_url": confirmation_url(client_list, email, full_name),
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
        to=[email],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(
        render_to_string("audiences/public/emails/confirm.html", context), "text/html"
    )
    return message


def send_subscription_confirmation(
    list_id: int, email: str, full_name: str = "", language: str = ""
) -> None:
    """Task: mail the confirmation link (made here, in the worker, so no link is
    stored in the queue). Nothing when the list is gone."""
    from apps.users.tasks import send_with_retries

    client_list = ClientList.objects.filter(pk=list_id).first()
    if client_list is None:
        return
    with translation.override(language or settings.LANGUAGE_CODE):
        message = confirmation_email(client_list, email, full_name)
    send_with_retries(message)
