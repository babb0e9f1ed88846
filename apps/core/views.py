from typing import TYPE_CHECKING, cast

from django.contrib import admin
from django.core.paginator import InvalidPage
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import REASON_NO_CSRF_COOKIE
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.core.health import health, may_see_details

if TYPE_CHECKING:
    from unfold.sites import UnfoldAdminSite


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """``{"status": "ok"}``, or ``"degraded"`` with a 503 when the database, cache or
    broker is failing.

    Operators (``health.may_see_details``) also get each check and the cluster
    (running clusters, age of the last scheduler heartbeat), which does not fail the
    check: the web site serves without it.
    """
    healthy, checks = health()
    body: dict[str, object] = {"status": "ok" if healthy else "degraded"}
    if may_see_details(request):
        body["checks"] = checks
    return JsonResponse(body, status=200 if healthy else 503)


def admin_search(request: HttpRequest) -> HttpResponse:
    """Unfold's search of the admin (``/admin/search/``), mounted before the admin's
    own URLs: its view answers a 500 for a page that is not a number or lies past
    the last one; here that page is not found."""
    # Unfold's app config replaces ``admin.site`` with its own site at start-up; the
    # stubs know Django's, which has no search.
    site = cast("UnfoldAdminSite", admin.site)
    try:
        return site.search(request)
    except InvalidPage:
        raise Http404("No such page of results.") from None


@never_cache
def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: a form sent without a valid CSRF token (usually one left
    open too long, or a login in another tab), in the site's look and language.

    Template ``403_csrf.html``; context ``no_cookie`` (the browser sent no CSRF
    cookie at all). Rendering it with the request hands out a fresh token.
    """
    return render(
        request,
        "403_csrf.html",
        {"no_cookie": reason == REASON_NO_CSRF_COOKIE},
        status=403,
    )
