from django.contrib import admin
from django.core.paginator import InvalidPage
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.core.health import health


@never_cache
@require_GET
def healthz(request):
    """JSON health report; 503 when the database, cache or broker is failing.

    The cluster is reported (running clusters, age of the last scheduler heartbeat)
    but does not fail the check: the web site serves without it.
    """
    healthy, checks = health()
    return JsonResponse(
        {"status": "ok" if healthy else "error", "checks": checks},
        status=200 if healthy else 503,
    )


def admin_search(request: HttpRequest) -> HttpResponse:
    """Unfold's search of the admin (``/admin/search/``), mounted before the admin's
    own URLs: its view answers a 500 for a page that is not a number or lies past
    the last one; here that page is not found."""
    try:
        return admin.site.search(request)
    except InvalidPage:
        raise Http404("No such page of results.") from None
