"""Public pages of lists, under /subscribe/ (project/urls.py)."""

from django.urls import path

from apps.audiences import public

app_name = "audiences"

urlpatterns = [
    path("confirm/<str:token>/", public.confirm, name="confirm"),
    path("<uuid:list_uuid>/", public.subscribe, name="subscribe"),
]
