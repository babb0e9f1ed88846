from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class DeliverabilityConfig(AppConfig):
    name = "apps.deliverability"
    label = "deliverability"
    verbose_name = _("Deliverability")

    def ready(self) -> None:
        from apps.deliverability import conf, segments, signals

        checks.register(conf.check_bounce_settings)
        signals.connect(self)
        segments.register()  # engagement rules for the audiences' segments
