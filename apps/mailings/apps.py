from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _

from apps.mailings.conf import check_engine_settings


class MailingsConfig(AppConfig):
    name = "apps.mailings"
    label = "mailings"
    verbose_name = _("Mailings")

    def ready(self) -> None:
        from apps.mailings import ownership, signals

        signals.connect(self)
        # Engine settings that cannot work stop `check`, `migrate` and `qcluster`.
        checks.register(check_engine_settings)
        ownership.register()
