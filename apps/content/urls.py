from django.urls import path

from apps.content import views

app_name = "content"
urlpatterns = [
    path("senders/verify/<str:token>/", views.sender_verify, name="sender_verify"),
]
