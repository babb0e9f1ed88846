from apps.api.api import api

app_name = "api"  # ninja reverses its own pages as "api:…"
urlpatterns = list(api.urls[0])
