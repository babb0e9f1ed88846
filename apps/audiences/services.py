"""Writes of audiences: lists, memberships, segments and suppressions."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audiences.models import ClientList, Segment, Subscription, Suppression
from apps.audiences.segments import clean_rules
from apps.core import permissions
from apps.mailings.models import Client

if TYPE_CHECKING:
    from apps.users.models import User

MAX_SUPPRESSION_FILE_ROWS = 100_000


@transaction.atomic
def client_list_create(
    *,
    owner: User,
    name: str,
    description: str = "",
    is_public: bool = False,
    double_opt_in: bool = True,
) -> ClientList:
    client_list = ClientList(
        owner=owner,
        name=name,
        description=description,
        is_public=is_public,
        double_opt_in=double_opt_in,
    )
    client_list.full_clean()
    client_list.save()
    permissions.owner_permissions_grant(owner=owner, objects=client_list)
    return client_list


@transaction.atomic
def segment_create(*, owner: User, name: str, rules: list[dict[str, str]]) -> Segment:
    segment = Segment(owner=owner, name=name, rules=clean_rules(rules, owner=owner))
    segment.full_clean()
    segment.save()
    permissions.owner_permissions_grant(owner=owner, objects=segment)
    return segment


def list_members_add(
    *, client_list: ClientList, clients: QuerySet[Client] | Iterable[Client]
) -> int:
    """Subscribe the list owner's `clients` to the list; returns how many joined.

    Set-based: one INSERT of the new memberships, one UPDATE of those who had left
    or not yet confirmed when the owner adds them by hand. Clients of anyone else
    are ignored."""
    if not isinstance(clients, QuerySet):
        clients = Client.objects.filter(pk__in=[c.pk for c in clients])
    own = clients.filter(owner_id=client_list.owner_id)
    now = timezone.now()
    with transaction.atomic():
        existing = Subscription.objects.filter(client_list=client_list)
        fresh = own.exclude(pk__in=existing.values("client_id")).values_list(
            "pk", flat=True
        )
        created = Subscription.objects.bulk_create(
            [
                Subscription(
                    client_id=pk,
                    client_list=client_list,
                    status=Subscription.Status.SUBSCRIBED,
                    confirmed_at=now,
                )
                for pk in fresh.iterator(chunk_size=2000)
            ],
            batch_size=1000,
            ignore_conflicts=True,
        )
        updated = (
            existing.filter(client_id__in=own.values("pk"))
            .exclude(status=Subscription.Status.SUBSCRIBED)
            .update(status=Subscription.Status.SUBSCRIBED, confirmed_at=now)
        )
    return len(created) + updated


def list_members_remove(
    *, client_list: ClientList, clients: QuerySet[Client] | Iterable[Client]
) -> int:
    """Take `clients` off the list (their memberships are deleted)."""
    if not isinstance(clients, QuerySet):
        clients = Client.objects.filter(pk__in=[c.pk for c in clients])
    deleted, _counts = Subscription.objects.filter(
        client_list=client_list, client_id__in=clients.values("pk")
    ).delete()
    return deleted


def _normalise(email: str) -> str:
    return email.strip()


def suppression_add(
    *,
    email: str,
    owner: User | None,
    reason: str = Suppression.Reason.MANUAL,
    source: str = "",
) -> Suppression:
    """Suppress `email` for `owner` (None: site-wide); idempotent.

    An existing entry keeps its reason, except that a recipient's own unsubscribe
    replaces a manual one (it is the stronger: the owner cannot remove it)."""
    entry, _created = suppression_get_or_add(
        email=email, owner=owner, reason=reason, source=source
    )
    return entry


def suppression_get_or_add(
    *,
    email: str,
    owner: User | None,
    reason: str = Suppression.Reason.MANUAL,
    source: str = "",
) -> tuple[Suppression, bool]:
    """``suppression_add``, also saying whether the entry is new (False when it
    was there already, or someone else wrote it at the same moment).

    Raises ValidationError for an invalid address."""
    email = _normalise(email)
    validate_email(email)
    entries = Suppression.objects.annotate(address=Lower("email")).filter(
        address=email.lower()
    )
    entries = (
        entries.filter(owner=owner) if owner is not None else entries.filter(owner=None)
    )
    existing = entries.first()
    if existing is not None:
        if (
            reason == Suppression.Reason.UNSUBSCRIBED
            and existing.reason == Suppression.Reason.MANUAL
        ):
            existing.reason = reason
            existing.source = source[:255]
            existing.save(update_fields=["reason", "source"])
        return existing, False
    try:
        with transaction.atomic():
            entry = Suppression.objects.create(
                email=email, owner=owner, reason=reason, source=source[:255]
            )
    except IntegrityError:  # added by someone else at the same moment
        found = entries.first()
        assert found is not None
        return found, False
    return entry, True


class SuppressionLocked(Exception):
    """The recipient's own unsubscribe: only their subscribing again undoes it."""


def suppression_remove(*, suppression: Suppression) -> None:
    """Remove an entry by hand (the admin asks who may first)."""
    if (
        suppression.owner_id is not None
        and suppression.reason == Suppression.Reason.UNSUBSCRIBED
    ):
        raise SuppressionLocked(
            _("The recipient unsubscribed: only they can subscribe again.")
        )
    suppression.delete()


def recipient_unsubscribed(
    *,
    client: Client | None = None,
    owner: User | None = None,
    email: str = "",
    source: str = "",
) -> None:
    """The recipient opted out of this owner's mail (link, one-click, list header,
    a complaint): recorded as the owner's suppression of the address.

    Give the `client`; or, when there is none (deleted since the delivery), the
    `owner` and the `email`, which is suppressed all the same."""
    if client is not None:
        owner, email = client.owner, client.email
    if owner is None or not email:
        raise ValueError("recipient_unsubscribed needs a client, or an owner and email")
    suppression_add(
        email=email,
        owner=owner,
        reason=Suppression.Reason.UNSUBSCRIBED,
        source=source or _("Unsubscribe link"),
    )
    if client is None:
        return
    Subscription.objects.filter(client=client).exclude(
        status=Subscription.Status.UNSUBSCRIBED
    ).update(status=Subscription.Status.UNSUBSCRIBED)


def recipient_resubscribed(*, client: Client) -> None:
    """The recipient subscribed again themselves (the public form, after
    confirming when the list asks): their own unsubscribe is lifted."""
    Suppression.objects.annotate(address=Lower("email")).filter(
        owner_id=client.owner_id,
        address=client.email.lower(),
        reason=Suppression.Reason.UNSUBSCRIBED,
    ).delete()
    Client.objects.filter(pk=client.pk).update(
        is_unsubscribed=False, unsubscribed_at=None, updated_at=timezone.now()
    )


def recipient_opted_out(client: Client) -> bool:
    """Did the recipient unsubscribe themselves (so the owner may not undo it)?"""
    return (
        Suppression.objects.annotate(address=Lower("email"))
        .filter(
            owner_id=client.owner_id,
            address=client.email.lower(),
            reason=Suppression.Reason.UNSUBSCRIBED,
        )
        .exists()
    )


@dataclass(frozen=True)
class SuppressionImport:
    added: int
    already: int
    invalid: list[tuple[int, str]]


def suppression_import(
    *, owner: User | None, data: bytes, source: str = ""
) -> SuppressionImport:
    """A suppression file: one e-mail per line, or a CSV whose first column (or
    "email" column) holds the address. UTF-8 (with or without BOM) or Windows-1251.

    Raises ValidationError for a file that cannot be read at all."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1251")
        except UnicodeDecodeError:
            raise ValidationError(
                _("The file is not UTF-8 or Windows-1251 text.")
            ) from None
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:4096], delimiters=",;\t"
        )
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    if len(rows) > MAX_SUPPRESSION_FILE_ROWS:
        raise ValidationError(
            _("The file has more than %(count)d rows.")
            % {"count": MAX_SUPPRESSION_FILE_ROWS}
        )
    column = 0
    if rows and rows[0]:
        header = [cell.strip().lower() for cell in rows[0]]
        for alias in ("email", "e-mail", "почта", "адрес"):
            if alias in header:
                column = header.index(alias)
                rows = rows[1:]
                break
    addresses: dict[str, str] = {}
    invalid: list[tuple[int, str]] = []
    for number, row in enumerate(rows, start=1):
        value = row[column].strip() if len(row) > column else ""
        if not value:
            continue
        try:
            validate_email(value)
        except ValidationError:
            if number > 1 or "@" in value:  # a header we did not recognise
                invalid.append((number, value[:100]))
            continue
        addresses.setdefault(value.lower(), value)
    owner_filter = Q(owner=owner) if owner is not None else Q(owner__isnull=True)
    known: set[str] = set()
    keys = list(addresses)
    for start in range(0, len(keys), 900):
        known.update(
            Suppression.objects.annotate(address=Lower("email"))
            .filter(owner_filter, address__in=keys[start : start + 900])
            .values_list("address", flat=True)
        )
    new = [
        Suppression(
            email=email,
            owner=owner,
            reason=Suppression.Reason.MANUAL,
            source=source[:255],
        )
        for key, email in addresses.items()
        if key not in known
    ]
    Suppression.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
    return SuppressionImport(
        added=len(new), already=len(addresses) - len(new), invalid=invalid
    )
