"""Why a session ended, told on the person's next request.

Blocking someone deletes their sessions (``services.sessions_delete``): their browser
still sends the old cookie, but the session is gone and Django would show a bare login
page. The ended sessions' keys are remembered here for as long as a session could have
lived, and ``EndedSessionMiddleware`` turns the first request that brings one back
into the login page with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils.translation import gettext

BLOCKED = "blocked"
PREFIX = "users:session-ended:"


def sessions_mark_ended(*, keys: Iterable[str], reason: str = BLOCKED) -> None:
    cache.set_many(
        {f"{PREFIX}{key}": reason for key in keys},
        timeout=settings.SESSION_COOKIE_AGE,
    )


def reason_text(reason: str) -> str:
    if reason == BLOCKED:
        return gettext(
            "You were signed out: a manager has blocked your account. Your mailings "
            "are stopped until it is unblocked; ask the manager if this is a mistake."
        )
    return gettext("You were signed out.")


class EndedSessionMiddleware:
    """After authentication and messages: a request with the cookie of a session that
    was ended on purpose lands on the login page, which says why (once)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        if key and not request.user.is_authenticated:
            reason = cache.get(f"{PREFIX}{key}")
            if reason is not None:
                cache.delete(f"{PREFIX}{key}")
                messages.error(request, reason_text(reason))
                login_url = resolve_url(settings.LOGIN_URL)
                if request.path != login_url:
                    return redirect_to_login(request.get_full_path(), login_url)
        return self.get_response(request)
