"""The tracking endpoints: the open pixel and the click redirect (see tracking)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from apps.deliverability import tracking


def _agent(request: HttpRequest) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:300]


@never_cache
@require_safe
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    found = tracking.read_open_token(token)
    if found is None:
        raise Http404("No such image.")
    attempt_id, delivery_id = found
    tracking.hit(
        "open",
        attempt_id=attempt_id,
        delivery_id=delivery_id,
        user_agent=_agent(request),
    )
    response = HttpResponse(tracking.PIXEL, content_type="image/gif")
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response


@never_cache
@require_safe
def click(request: HttpRequest, token: str) -> HttpResponse:
    found = tracking.read_click_token(token)
    if found is None:
        raise Http404("No such link.")
    attempt_id, delivery_id, index = found
    url = tracking.link_of(attempt_id, index)
    if url is None:
        raise Http404("No such link.")
    tracking.hit(
        "click",
        attempt_id=attempt_id,
        delivery_id=delivery_id,
        user_agent=_agent(request),
        index=index,
        url=url,
    )
    response = HttpResponseRedirect(url)
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response
