from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_safe

from apps.home import selectors


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """The public home page. Template ``home/home.html``; context ``stats``,
    ``posts`` (three random published posts), ``register_url``, ``login_url``.

    Warm, it makes no SQL query: everything comes from the shared cache."""
    return render(
        request,
        "home/home.html",
        {
            "stats": selectors.home_statistics(),
            "posts": selectors.home_random_posts(count=3),
            "register_url": _url("users:register", "/accounts/register/"),
            "login_url": reverse("admin:login"),
            "canonical_url": settings.SITE_URL + "/",
        },
    )


def _url(name: str, fallback: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        return fallback
