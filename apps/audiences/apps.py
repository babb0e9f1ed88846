from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AudiencesConfig(AppConfig):
    name = "apps.audiences"
    label = "audiences"
    verbose_name = _("Audiences")

    def ready(self) -> None:
        from apps.audiences import ownership

        ownership.register()
