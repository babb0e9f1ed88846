"""Reads of audiences: a mailing's recipients, suppression checks, list counts.

Who may see which list, segment or suppression is the permission module's
business (``apps.core.permissions.visible``); these build on what it lets through.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Lower

from apps.audiences.models import ClientList, Segment, Subscription, Suppression
from apps.audiences.segments import segment_q
from apps.mailings.models import Client, Mailing

if TYPE_CHECKING:
    from apps.users.models import User


@dataclass
class Targets:
    """What a mailing is sent to: lists, segments, individual clients, everyone."""

    owner_id: int
    list_ids: list[int] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    client_ids: Iterable[int] | QuerySet[Any] = ()
    to_all_clients: bool = False

    @classmethod
    def of_mailing(cls, mailing: Mailing) -> Targets:
        """A saved mailing's targets, read now (a run resolves them afresh)."""
        through = Mailing.clients.through
        return cls(
            owner_id=mailing.owner_id,
            list_ids=list(mailing.lists.values_list("pk", flat=True)),
            segments=list(mailing.segments.select_related("owner")),
            client_ids=through.objects.filter(mailing_id=mailing.pk).values(
                "client_id"
            ),
            to_all_clients=mailing.to_all_clients,
        )

    @property
    def empty(self) -> bool:
        return not (
            self.to_all_clients
            or self.list_ids
            or self.segments
            or (
                self.client_ids.exists()
                if isinstance(self.client_ids, QuerySet)
                else list(self.client_ids)
            )
        )


def _members(list_ids: list[int], *, subscribed: bool) -> Exists:
    status = Q(status=Subscription.Status.SUBSCRIBED)
    return Exists(
        Subscription.objects.filter(
            status if subscribed else ~status,
            client=OuterRef("pk"),
            client_list_id__in=list_ids,
        )
    )


def suppressed_q(owner_id: int) -> Q:
    """Clients whose address the owner, or the whole site, suppressed: one EXISTS
    answered by one search of the index on lower(email) (an address has few
    entries). The owner test is COALESCE(owner, me) = me rather than "owner = me OR
    owner IS NULL": SQLite turns the OR into two searches of the two unique
    indexes, which made this test a third of run resolution's time."""
    return Q(
        Exists(
            Suppression.objects.annotate(
                address=Lower("email"),
                scope=Coalesce("owner_id", Value(owner_id)),
            ).filter(address=Lower(OuterRef("email")), scope=owner_id)
        )
    )


def targets_q(targets: Targets) -> Q:
    """The union of the targets as one condition on Client (the owner's clients
    only: a client, list or segment of someone else never adds a recipient).

    Every client of an owner has a different address (case-insensitively, by
    constraint), so the union is one delivery per e-mail without grouping. A member
    of a targeted list counts when subscribed to one of them; a client who left, or
    has not yet confirmed, the targeted lists is not a recipient even when another
    target (a segment, "all my clients") names them: they said no to these lists.
    Members are tested first, so each of them costs one index look-up."""
    others = Q(pk__in=[])
    if targets.to_all_clients:
        others = Q()
    else:
        client_ids = targets.client_ids
        if isinstance(client_ids, QuerySet) or list(client_ids):
            others |= Q(pk__in=client_ids)
        for segment in targets.segments:
            if segment.owner_id == targets.owner_id:
                others |= segment_q(segment)
    if targets.list_ids:
        union = Q(_members(targets.list_ids, subscribed=True)) | (
            others & ~Q(_members(targets.list_ids, subscribed=False))
        )
    else:
        union = others
    return Q(owner_id=targets.owner_id) & union


def recipients(targets: Targets) -> QuerySet[Client]:
    """The clients a run would serve (before unsubscribes and suppressions)."""
    return Client.objects.filter(targets_q(targets))


@dataclass(frozen=True)
class RecipientCount:
    total: int  # targeted clients
    sendable: int  # of which neither unsubscribed nor suppressed


def recipient_count(targets: Targets) -> RecipientCount:
    """What the mailing form shows before saving (two counts, one query)."""
    if targets.empty:
        return RecipientCount(0, 0)
    blocked = Q(is_unsubscribed=True) | suppressed_q(targets.owner_id)
    counts = recipients(targets).aggregate(
        total=Count("pk"), sendable=Count("pk", filter=~blocked)
    )
    return RecipientCount(counts["total"], counts["sendable"])


def client_suppressions(client: Client) -> QuerySet[Suppression]:
    """Entries that stop mail to this client: their owner's and site-wide."""
    return (
        Suppression.objects.annotate(address=Lower("email"))
        .filter(address=client.email.lower())
        .filter(Q(owner_id=client.owner_id) | Q(owner__isnull=True))
    )


def owner_lists(owner: User) -> QuerySet[ClientList]:
    return ClientList.objects.filter(owner=owner)
