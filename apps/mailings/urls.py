from django.urls import path

from apps.mailings import views

app_name = "mailings"
urlpatterns = [
    path("<str:token>/", views.unsubscribe, name="unsubscribe"),
]
