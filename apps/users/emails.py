"""Every account e-mail, built from templates (subject, text and HTML) in one place.

Links are absolute, made from ``settings.SITE_URL``: mail is built in a worker, where
there is no request to take the host from.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from apps.users.models import User
from apps.users.tokens import confirmation_token_generator


def absolute_url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def uidb64(user: User) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


def confirmation_url(user: User) -> str:
    token = confirmation_token_generator.make_token(user)
    return absolute_url(
        reverse("users:confirm", kwargs={"uidb64": uidb64(user), "token": token})
    )


def password_reset_url(user: User) -> str:
    from django.contrib.auth.tokens import default_token_generator

    token = default_token_generator.make_token(user)
    return absolute_url(
        reverse(
            "users:password_reset_confirm",
            kwargs={"uidb64": uidb64(user), "token": token},
        )
    )


def _build(name: str, *, user: User, context: dict) -> EmailMultiAlternatives:
    context = {
        "user": user,
        "site_url": settings.SITE_URL,
        "login_url": absolute_url(reverse("admin:login")),
        **context,
    }
    # A subject is one line, whatever the template or the translation says.
    subject = " ".join(
        render_to_string(f"users/emails/{name}_subject.txt", context).split()
    )
    text = render_to_string(f"users/emails/{name}.txt", context)
    html = render_to_string(f"users/emails/{name}.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(html, "text/html")
    return message


def confirmation_email(user: User) -> EmailMultiAlternatives:
    return _build(
        "confirmation",
        user=user,
        context={
            "confirmation_url": confirmation_url(user),
            "max_age_days": settings.MAILSHOT_CONFIRMATION_MAX_AGE_DAYS,
        },
    )


def already_registered_email(user: User) -> EmailMultiAlternatives:
    """Sent instead of a second account when someone registers a taken address."""
    return _build(
        "already_registered",
        user=user,
        context={
            "password_reset_url": password_reset_url(user),
            # Someone who never confirmed gets a fresh link as well.
            "confirmation_url": None
            if user.email_confirmed
            else confirmation_url(user),
            "max_age_days": settings.MAILSHOT_CONFIRMATION_MAX_AGE_DAYS,
        },
    )


def password_reset_email(user: User) -> EmailMultiAlternatives:
    return _build(
        "password_reset",
        user=user,
        context={
            "password_reset_url": password_reset_url(user),
            "max_age_hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
        },
    )
