"""Requests whose address carries control characters are refused before any view.

Search boxes, list filters, autocomplete terms and URL parts go straight into
queries: PostgreSQL cannot even receive a NUL (the driver raises, and the page would
be a 500), and no link or form of the site ever sends a control character. One guard
here covers every admin list (ours and the libraries'), the admin's search and
autocomplete, and the public pages; form fields are checked by their validators.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse

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
