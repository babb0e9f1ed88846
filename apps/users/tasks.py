"""django-q2 tasks for account mail: thin functions that take ids.

Tokens are made here, in the worker, so no secret link is ever stored in the queue.
A temporary failure (the server is down, answers 4xx, drops the line) is retried a
few times with back-off; a permanent one (5xx) is raised at once so django-q2 records
the failed task.
"""

from __future__ import annotations

import logging
import smtplib
import time

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import translation

from apps.users import emails
from apps.users.models import User

logger = logging.getLogger(__name__)

# Seconds to wait before the second and the third attempt.
RETRY_DELAYS: tuple[float, ...] = (5, 30)


def is_temporary_failure(error: Exception) -> bool:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    # Refused connections, timeouts and dropped lines (SMTPServerDisconnected).
    return isinstance(error, OSError)


def send_with_retries(message: EmailMessage) -> None:
    delays = list(RETRY_DELAYS)
    while True:
        try:
            message.send()
            return
        except Exception as error:
            if not delays or not is_temporary_failure(error):
                raise
            delay = delays.pop(0)
            logger.warning(
                "Account mail to %s failed (%s); retrying in %s s",
                message.to,
                error,
                delay,
            )
            time.sleep(delay)


def _send(builder, user: User | None, language: str | None) -> None:
    if user is None:
        return  # deleted, confirmed or blocked since the mail was queued
    with translation.override(language or settings.LANGUAGE_CODE):
        message = builder(user)
    send_with_retries(message)


def send_confirmation_email(user_id: int, language: str | None = None) -> None:
    user = User.objects.filter(pk=user_id, email_confirmed=False).first()
    _send(emails.confirmation_email, user, language)


def send_already_registered_email(user_id: int, language: str | None = None) -> None:
    user = User.objects.filter(pk=user_id).first()
    _send(emails.already_registered_email, user, language)


def send_password_reset_email(user_id: int, language: str | None = None) -> None:
    user = User.objects.filter(pk=user_id, is_active=True, is_blocked=False).first()
    _send(emails.password_reset_email, user, language)


def purge_unconfirmed_accounts() -> int:
    """Daily (schedule ``users-purge-unconfirmed``): expired registrations go."""
    from apps.users.services import users_purge_unconfirmed

    deleted = users_purge_unconfirmed()
    if deleted:
        logger.info("Deleted %s unconfirmed registrations", deleted)
    return deleted


def clear_expired_sessions() -> None:
    """Daily (schedule ``users-clear-sessions``): what ``manage.py clearsessions``
    does — expired sessions leave the session table."""
    from importlib import import_module

    store = import_module(settings.SESSION_ENGINE).SessionStore
    store.clear_expired()
