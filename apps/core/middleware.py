"""Site-wide middleware: control characters refused, Content-Security-Policy sent,
the logged-in person's time zone activated.

Requests whose address carries control characters are refused before any view.

Search boxes, list filters, autocomplete terms and URL parts go straight into
queries: PostgreSQL cannot even receive a NUL (the driver raises, and the page would
be a 500), and no link or form of the site ever sends a control character. One guard
here covers every admin list (ours and the libraries'), the admin's search and
autocomplete, and the public pages; form fields are checked by their validators.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from apps.core.validators import has_control_characters


class ControlCharactersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if has_control_characters(request.path_info) or any(
            has_control_characters(key)
            or any(has_control_characters(value) for value in values)
            for key, values in request.GET.lists()
        ):
            # BadRequest is answered with the site's translated 400 page.
            raise BadRequest("Control characters in the request's address.")
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """Sends ``CSP_POLICY``, or ``CSP_ADMIN_POLICY`` under ``CSP_ADMIN_PATHS``.

    The public site runs only its own scripts and styles. The admin and the account
    pages are Unfold's: its Alpine.js builds every ``x-data`` expression with ``new
    Function`` (the CSP build of Alpine cannot read Unfold's templates), and Unfold,
    htmx and CKEditor 5 set inline styles; no inline script and no other origin are
    allowed there either. Django's debug pages (404 and 500 while ``DEBUG``) keep
    their inline styles and scripts.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.public = self._header(settings.CSP_POLICY)
        self.admin = self._header(settings.CSP_ADMIN_POLICY)
        self.admin_paths = tuple(settings.CSP_ADMIN_PATHS)

    @staticmethod
    def _header(policy: dict[str, str]) -> str:
        return "; ".join(f"{name} {value}" for name, value in policy.items())

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" in response:
            return response
        if settings.DEBUG and response.status_code in (404, 500):
            return response
        admin = request.path_info.startswith(self.admin_paths)
        response["Content-Security-Policy"] = self.admin if admin else self.public
        return response


class TimeZoneMiddleware:
    """Date-times of a logged-in person's requests are shown and read in their own
    zone (``User.time_zone``): Django's forms, list columns and ``localtime`` all use
    the active zone. Anonymous requests keep ``TIME_ZONE``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        zone = (
            getattr(user, "time_zone", None) if user and user.is_authenticated else None
        )
        if zone:
            timezone.activate(zone)
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
