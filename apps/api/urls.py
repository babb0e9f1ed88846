from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponseBase
from django.urls import URLPattern
from django.utils.translation import gettext

from apps.api.api import api
from apps.api.problems import PROBLEM_TYPE, problem_response


def _problem_for_405(
    view: Callable[..., HttpResponseBase],
) -> Callable[..., HttpResponseBase]:
    """Ninja answers a method a path does not have in plain text: a problem here."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and response.get("Content-Type") != PROBLEM_TYPE:
            problem = problem_response(405, gettext("This method is not allowed here."))
            if "Allow" in response:
                problem["Allow"] = response["Allow"]
            return problem
        return response

    return wrapped


app_name = "api"  # ninja reverses its own pages as "api:…"
urlpatterns = list(api.urls[0])
for _pattern in urlpatterns:
    assert isinstance(_pattern, URLPattern) and _pattern.callback is not None
    _pattern.callback = _problem_for_405(_pattern.callback)
