"""Engagement rules for segments: opened / clicked / not opened in the last N days.

Registered with ``apps.audiences.segments.register_condition`` (the segment form,
its count and preview, and run resolution all read that table). People only:
machine opens and clicks (apps.deliverability.engagement) do not make a reader
"engaged". "Not opened" includes clients who received nothing in that time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.audiences.segments import Condition, register_condition
from apps.deliverability.models import Engagement

if TYPE_CHECKING:
    from apps.users.models import User

MAX_DAYS = 3650


def _clean_days(value: str, owner: User) -> int:
    try:
        days = int(str(value).strip())
    except ValueError:
        raise ValidationError(
            _("Write a number of days, such as 30."), code="days"
        ) from None
    if not 1 <= days <= MAX_DAYS:
        raise ValidationError(
            _("Choose from 1 to %(max)d days.") % {"max": MAX_DAYS}, code="days"
        )
    return days


def _engaged(kind: str, days: int) -> Q:
    since = timezone.now() - timedelta(days=days)
    return Q(
        Exists(
            Engagement.objects.filter(
                delivery__client=OuterRef("pk"),
                kind=kind,
                is_machine=False,
                at__gte=since,
            )
        )
    )


def register() -> None:
    def rule(kind: str, *, negate: bool = False) -> Any:
        def to_q(field: str, days: int) -> Q:
            found = _engaged(kind, days)
            return ~found if negate else found

        return to_q

    register_condition(
        "opened_within",
        Condition(
            label=_("opened a message in the last N days"),
            clean=_clean_days,
            to_q=rule(Engagement.Kind.OPEN),
        ),
    )
    register_condition(
        "clicked_within",
        Condition(
            label=_("clicked a link in the last N days"),
            clean=_clean_days,
            to_q=rule(Engagement.Kind.CLICK),
        ),
    )
    register_condition(
        "not_opened_within",
        Condition(
            label=_("opened no message in the last N days"),
            clean=_clean_days,
            to_q=rule(Engagement.Kind.OPEN, negate=True),
        ),
    )
