from django.http import JsonResponse
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
