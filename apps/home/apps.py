from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HomeConfig(AppConfig):
    name = "apps.home"
    label = "home"
    verbose_name = _("Home page")

    def ready(self) -> None:
        from apps.home import signals  # noqa: F401
