from django.urls import path

from apps.deliverability import views

urlpatterns = [
    path("o/<str:token>.gif", views.open_pixel, name="tracking_open"),
    path("c/<str:token>/", views.click, name="tracking_click"),
]
