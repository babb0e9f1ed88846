"""The active time zone (the logged-in person's, see ``TimeZoneMiddleware``) named
where date-times are shown or entered, so nobody has to guess which zone "09:00" is."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib import admin
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _


def zone_name() -> str:
    return timezone.get_current_timezone_name()


# Evaluated when rendered, i.e. in the zone of the request being answered.
zone_name_lazy = lazy(zone_name, str)


def zone_hint() -> str:
    """ "Time zone: Europe/Berlin", for a form field's help text."""
    return str(_("Time zone: %(zone)s") % {"zone": zone_name()})


def with_zone(label: Any) -> Any:
    """ "start (Europe/Berlin)": a column heading that names the active zone."""
    return format_lazy("{} ({})", label, zone_name_lazy())


def local_time_column(field: str, label: Any) -> Callable[[Any], datetime | None]:
    """A list column showing the model's date-time `field` in the active zone, its
    heading naming the zone; sorted by the field, and keeping the field's CSS class
    (``field-<name>``) so pages and tests that look for it still find it."""

    def column(obj: Any) -> datetime | None:
        value: datetime | None = getattr(obj, field)
        return value

    column.__name__ = field
    return admin.display(description=with_zone(label), ordering=field)(column)
