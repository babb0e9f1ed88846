"""Verifying a sender address: a signed, expiring, single-use link mailed to it.

The link carries the identity's id and a digest of its state (address, owner and
``verified_at``), signed with ``django.core.signing`` under a salt of its own (no
other signed value of the site can stand in for it) and timestamped. Verifying
changes ``verified_at``, so the digest no longer matches and every link sent for
that address dies the moment one of them is used; changing the address kills them
too. Links live ``MAILSHOT_CONFIRMATION_MAX_AGE_DAYS`` days, like account links.

The mail is sent by a django-q2 task that takes ids only (the token is made in the
worker: no secret link is stored in the queue), once per address per minute.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac

from apps.content.models import SenderIdentity
from apps.mailings.emails import one_line

SALT = "apps.content.verification.sender-identity"
# Seconds between two verification mails to one address of an identity.
MAIL_INTERVAL = 60


def max_age_seconds() -> int:
    return settings.MAILSHOT_CONFIRMATION_MAX_AGE_DAYS * 24 * 60 * 60


def _state(identity: SenderIdentity) -> str:
    verified = identity.verified_at.isoformat() if identity.verified_at else ""
    value = (
        f"{identity.pk}|{identity.owner_id}|{identity.from_email.lower()}|{verified}"
    )
    return salted_hmac(SALT, value, algorithm="sha256").hexdigest()[:20]


def make_token(identity: SenderIdentity) -> str:
    return signing.TimestampSigner(salt=SALT).sign(f"{identity.pk}.{_state(identity)}")


def verification_url(identity: SenderIdentity) -> str:
    return settings.SITE_URL + reverse(
        "content:sender_verify", args=[make_token(identity)]
    )


class Problem(StrEnum):
    INVALID = "invalid"  # tampered, or for an identity that is gone or changed
    EXPIRED = "expired"
    USED = "used"  # the address is verified already


@dataclass(frozen=True, slots=True)
class Checked:
    identity: SenderIdentity | None
    problem: Problem | None = None


def check_token(token: str) -> Checked:
    """What a verification link names, and why it cannot be used (if it cannot)."""
    signer = signing.TimestampSigner(salt=SALT)
    try:
        value = signer.unsign(token, max_age=max_age_seconds())
    except signing.SignatureExpired:
        return Checked(None, Problem.EXPIRED)
    except signing.BadSignature:
        return Checked(None, Problem.INVALID)
    pk, _dot, state = value.partition(".")
    if not pk.isascii() or not pk.isdigit() or len(pk) > 18:
        return Checked(None, Problem.INVALID)
    identity = SenderIdentity.objects.select_related("owner").filter(pk=int(pk)).first()
    if identity is None:
        return Checked(None, Problem.INVALID)
    if constant_time_compare(state, _state(identity)):
        return Checked(identity)
    if identity.verified_at is not None:
        return Checked(identity, Problem.USED)
    return Checked(identity, Problem.INVALID)


def identity_verify(*, identity: SenderIdentity) -> bool:
    """Mark the address verified; False when it was verified (or changed) since it
    was read. A conditional UPDATE: two clicks at once verify it once."""
    now = timezone.now()
    won = SenderIdentity.objects.filter(
        pk=identity.pk,
        verified_at__isnull=True,
        from_email=identity.from_email,
        owner_id=identity.owner_id,
    ).update(verified_at=now)
    if won:
        identity.verified_at = now
    return bool(won)


def identity_address_changed(*, identity: SenderIdentity) -> None:
    """A new address is not verified, whatever the old one was (set before saving)."""
    identity.verified_at = None


def verification_request(*, identity: SenderIdentity, language: str | None) -> bool:
    """Queue the verification mail after the transaction commits; False when one
    was queued for this identity less than MAIL_INTERVAL seconds ago."""
    from django_q.tasks import async_task

    if identity.verified_at is not None:
        return False
    # Per address: a corrected typo gets its own link at once.
    address = identity.from_email.lower()
    key = f"content:sender-verification:{identity.pk}:{address}"
    now = time.time()
    last = cache.get(key)
    if last is not None and now - last < MAIL_INTERVAL:
        return False
    cache.set(key, now, MAIL_INTERVAL * 2)
    transaction.on_commit(
        lambda: async_task(
            "apps.content.verification.send_verification_email",
            identity.pk,
            language,
            group="account-mail",
        )
    )
    return True


def verification_email(identity: SenderIdentity) -> EmailMultiAlternatives:
    """The mail to the address itself, with the link (in the active language)."""
    context = {
        "identity": identity,
        "owner_email": identity.owner.email,
        "verification_url": verification_url(identity),
        "max_age_days": settings.MAILSHOT_CONFIRMATION_MAX_AGE_DAYS,
        "site_url": settings.SITE_URL,
    }
    subject = one_line(
        render_to_string("content/emails/sender_verification_subject.txt", context)
    )
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("content/emails/sender_verification.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[identity.from_email],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(
        render_to_string("content/emails/sender_verification.html", context),
        "text/html",
    )
    return message


def send_verification_email(identity_id: int, language: str | None = None) -> None:
    """django-q2 task: mail the link, unless the identity is gone or verified."""
    from apps.users.tasks import send_with_retries

    identity = (
        SenderIdentity.objects.select_related("owner")
        .filter(pk=identity_id, verified_at__isnull=True)
        .first()
    )
    if identity is None:
        return
    with translation.override(language or settings.LANGUAGE_CODE):
        message = verification_email(identity)
    send_with_retries(message)
