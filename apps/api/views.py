"""The site's 400 and 404 pages, which answer problem documents under /api/.

The site refuses an address with control characters before any view runs
(``ControlCharactersMiddleware``): an API client gets that refusal in the API's
error format rather than as an HTML page.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext
from django.views import defaults

from apps.api.problems import problem_response

API_PREFIX = "/api/"


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path_info.startswith(API_PREFIX):
        return problem_response(404, gettext("There is nothing at this address."))
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path_info.startswith(API_PREFIX):
        return problem_response(
            400, gettext("The request's address holds control characters.")
        )
    return defaults.bad_request(request, exception)
