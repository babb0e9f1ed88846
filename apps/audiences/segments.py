"""Segment rules: validated, then turned into a condition on an owner's clients.

A segment's ``rules`` is a JSON list of rows, each
``{"condition": <name>, "field": <attribute name or "">, "value": <text>}``; a client
belongs to the segment when it meets every row (no rows: every client of the owner).
Values are compared as text, never evaluated.

Each condition is one entry of ``CONDITIONS``: its label, whether it names an
attribute (``field``), how a value is checked (``clean``) and the ``Q`` it makes on
``Client``. The deliverability issue adds engagement conditions ("opened in the last
N days") with ``register_condition`` and nothing else changes: the form, the count,
the preview and run resolution all read this table.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.lookups import IContains, IExact
from django.utils.dateparse import parse_date
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from apps.audiences.models import ClientList, Segment, Subscription
from apps.mailings.models import Client

if TYPE_CHECKING:
    from apps.users.models import User

# An attribute name: what an import makes of a column header (letters in any script,
# digits, "_", "-", spaces inside).
ATTRIBUTE_NAME_RE = re.compile(r"^[\w][\w -]{0,62}$")
MAX_RULES = 20
MAX_VALUE_LENGTH = 255
DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9-]{1,63}\.)*[a-z0-9-]{1,63}$", re.I)


@dataclass(frozen=True)
class Condition:
    label: str | Promise
    # Checks and normalises a row's value for `owner`; raises ValidationError.
    clean: Callable[[str, User], Any]
    # The condition on Client for a cleaned value (and the attribute name, if any).
    to_q: Callable[[str, Any], Q]
    needs_field: bool = False


CONDITIONS: dict[str, Condition] = {}


def register_condition(name: str, condition: Condition) -> None:
    """Add a kind of rule (the extension point for engagement rules)."""
    CONDITIONS[name] = condition


# --- the conditions -----------------------------------------------------------------


def _clean_text(value: str, owner: User) -> str:
    if not value:
        raise ValidationError(_("Enter a value."))
    return value


def _clean_list(value: str, owner: User) -> int:
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise ValidationError(_("Choose one of your lists.")) from None
    if not ClientList.objects.filter(pk=pk, owner=owner).exists():
        raise ValidationError(_("Choose one of your lists."))
    return pk


def _clean_domain(value: str, owner: User) -> str:
    domain = value.strip().lstrip("@").lower()
    if not DOMAIN_RE.match(domain):
        raise ValidationError(_("Enter a domain such as example.com."))
    return domain


def _clean_date(value: str, owner: User) -> date:
    try:
        parsed = parse_date(value.strip())
    except ValueError:
        parsed = None
    if parsed is None or not 2000 <= parsed.year < 2100:
        raise ValidationError(_("Enter a date as YYYY-MM-DD (2000 to 2099)."))
    return parsed


def _in_list(field: str, pk: int) -> Q:
    return Q(
        Exists(
            Subscription.objects.filter(
                client=OuterRef("pk"),
                client_list_id=pk,
                status=Subscription.Status.SUBSCRIBED,
            )
        )
    )


def _attribute(field: str) -> KeyTextTransform:
    return KeyTextTransform(field, "attributes")


register_condition(
    "in_list",
    Condition(label=_("is subscribed to the list"), clean=_clean_list, to_q=_in_list),
)
register_condition(
    "not_in_list",
    Condition(
        label=_("is not subscribed to the list"),
        clean=_clean_list,
        to_q=lambda field, pk: ~_in_list(field, pk),
    ),
)
register_condition(
    "attr_equals",
    Condition(
        label=_("attribute equals"),
        clean=_clean_text,
        to_q=lambda field, value: Q(IExact(_attribute(field), value)),
        needs_field=True,
    ),
)
register_condition(
    "attr_contains",
    Condition(
        label=_("attribute contains"),
        clean=_clean_text,
        to_q=lambda field, value: Q(IContains(_attribute(field), value)),
        needs_field=True,
    ),
)
register_condition(
    "email_domain",
    Condition(
        label=_("e-mail domain is"),
        clean=_clean_domain,
        to_q=lambda field, domain: Q(email__iendswith=f"@{domain}"),
    ),
)
register_condition(
    "created_before",
    Condition(
        label=_("added before"),
        clean=_clean_date,
        to_q=lambda field, day: Q(created_at__date__lt=day),
    ),
)
register_condition(
    "created_after",
    Condition(
        label=_("added on or after"),
        clean=_clean_date,
        to_q=lambda field, day: Q(created_at__date__gte=day),
    ),
)


# --- validation and evaluation ------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    condition: str
    field: str
    value: Any


def clean_rules(rules: Any, *, owner: User) -> list[dict[str, str]]:
    """Check raw rules (from a form or the API); return them normalised for saving.

    Raises ValidationError with one message per faulty row ("Row 2: …")."""
    if not isinstance(rules, list):
        raise ValidationError(_("The rules must be a list of conditions."))
    if len(rules) > MAX_RULES:
        raise ValidationError(
            _("A segment has at most %(count)d conditions.") % {"count": MAX_RULES}
        )
    cleaned: list[dict[str, str]] = []
    errors: list[ValidationError] = []
    for number, row in enumerate(rules, start=1):
        try:
            cleaned.append(_clean_row(row, owner=owner))
        except ValidationError as error:
            for message in error.messages:
                errors.append(
                    ValidationError(
                        _("Condition %(number)d: %(message)s")
                        % {"number": number, "message": message}
                    )
                )
    if errors:
        raise ValidationError(errors)
    return cleaned


def _clean_row(row: Any, *, owner: User) -> dict[str, str]:
    if not isinstance(row, dict):
        raise ValidationError(_("Not a condition."))
    name = row.get("condition")
    condition = CONDITIONS.get(name) if isinstance(name, str) else None
    if condition is None:
        raise ValidationError(_("Choose a condition."))
    field = row.get("field") or ""
    value = row.get("value")
    if not isinstance(field, str) or not isinstance(value, str | int):
        raise ValidationError(_("Not a condition."))
    value = str(value).strip()
    field = field.strip()
    if len(value) > MAX_VALUE_LENGTH:
        raise ValidationError(
            _("The value is longer than %(count)d characters.")
            % {"count": MAX_VALUE_LENGTH}
        )
    if condition.needs_field:
        if not ATTRIBUTE_NAME_RE.match(field):
            raise ValidationError(
                _("Name the attribute (letters, digits, spaces, “_” or “-”).")
            )
    else:
        field = ""
    condition.clean(value, owner)
    assert isinstance(name, str)
    return {"condition": name, "field": field, "value": value}


def rules_q(rules: Sequence[Any], *, owner: User) -> Q:
    """The condition on Client for saved rules (all rows met).

    Saved rules were valid when saved; a row that no longer is (its list was
    deleted, an unknown condition) matches nobody rather than failing a run."""
    q = Q()
    for row in rules:
        try:
            cleaned = _clean_row(row, owner=owner)
        except ValidationError:
            return Q(pk__in=[])
        condition = CONDITIONS[cleaned["condition"]]
        value = condition.clean(cleaned["value"], owner)
        q &= condition.to_q(cleaned["field"], value)
    return q


def segment_q(segment: Segment) -> Q:
    """The segment as a condition on Client: the owner's clients meeting its rules."""
    return Q(owner_id=segment.owner_id) & rules_q(segment.rules, owner=segment.owner)


def segment_clients(segment: Segment) -> QuerySet[Client]:
    return Client.objects.filter(segment_q(segment))


def rules_clients(rules: Sequence[Any], *, owner: User) -> QuerySet[Client]:
    """Clients matching unsaved (cleaned) rules: the form's live count and preview."""
    return Client.objects.filter(Q(owner=owner) & rules_q(rules, owner=owner))
