from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UsersConfig(AppConfig):
    name = "apps.users"
    label = "users"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from django.contrib.auth.models import Group, Permission

        from apps.users import roles, signals

        signals.connect()
        # Shown everywhere a group or a permission is named (list filters, select
        # boxes, delete pages) in the reader's language; the stored names stay.
        Group.__str__ = roles.group_display_name  # type: ignore[method-assign,assignment]
        Permission.__str__ = roles.permission_display_name  # type: ignore[method-assign,assignment]
