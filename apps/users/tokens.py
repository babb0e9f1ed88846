"""Signed, expiring, single-use links for e-mail confirmation."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.utils.crypto import constant_time_compare
from django.utils.http import base36_to_int


class EmailConfirmationTokenGenerator(PasswordResetTokenGenerator):
    """Like Django's password-reset tokens, with two differences that matter.

    Its own ``key_salt``, so a confirmation token never doubles as a password-reset
    token (and the other way round). The confirmed state is hashed in, so the token
    dies the moment it has been used. It lives for
    ``MAILSHOT_CONFIRMATION_MAX_AGE_DAYS`` rather than ``PASSWORD_RESET_TIMEOUT``.
    """

    key_salt = "apps.users.tokens.EmailConfirmationTokenGenerator"

    @property
    def max_age_seconds(self) -> int:
        return settings.MAILSHOT_CONFIRMATION_MAX_AGE_DAYS * 24 * 60 * 60

    def _make_hash_value(self, user, timestamp: int) -> str:
        return f"{user.pk}{user.email}{user.email_confirmed}{user.is_active}{timestamp}"

    def check_token(self, user, token) -> bool:
        if not (user and token):
            return False
        try:
            ts_b36, _hash = token.split("-")
            ts = base36_to_int(ts_b36)
        except ValueError:
            return False
        for secret in [self.secret, *self.secret_fallbacks]:
            expected = self._make_token_with_timestamp(user, ts, secret)
            if constant_time_compare(expected, token):
                break
        else:
            return False
        return (self._num_seconds(self._now()) - ts) <= self.max_age_seconds


confirmation_token_generator = EmailConfirmationTokenGenerator()
