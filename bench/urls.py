"""The site's URLs plus a trivial view: the yardstick of the tracking endpoints."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from project.urls import urlpatterns as site


def trivial(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("bench/trivial/", trivial), *site]
