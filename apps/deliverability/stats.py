"""The numbers of a mailing's report, read from the delivery ledger.

Every count is over the deliveries of the runs asked about, each rate a share of
the messages *sent* (what the receiving servers accepted): bounce and complaint
rates are what mail providers judge a sender by.

* opens and clicks — ``total`` counts every person's open or click; ``unique``
  counts deliveries opened (clicked) at least once; machine events are in neither
  (apps.deliverability.engagement);
* unsubscribes — recipients of these runs who unsubscribed from the owner after
  the message reached them (their own suppression, reason ``unsubscribed``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Lower, TruncDay, TruncHour
from django.utils import timezone

from apps.audiences.models import Suppression
from apps.deliverability.models import Engagement
from apps.mailings.models import Delivery

# The usual abuse signals (Mailchimp, SES and Gmail's guidance use about these).
HARD_BOUNCE_LIMIT = 0.05
COMPLAINT_LIMIT = 0.001


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True, slots=True)
class LinkRow:
    index: int | None
    url: str
    unique: int
    total: int


@dataclass(slots=True)
class Report:
    recipients: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    pending: int = 0
    hard_bounces: int = 0
    soft_bounces: int = 0
    complaints: int = 0
    unique_opens: int = 0
    opens: int = 0
    unique_clicks: int = 0
    clicks: int = 0
    unsubscribes: int = 0
    links: list[LinkRow] = field(default_factory=list)
    # (start of the hour or day, opens, clicks), people only.
    timeline: list[tuple[datetime, int, int]] = field(default_factory=list)
    timeline_unit: str = "hour"

    def rates(self) -> dict[str, float | None]:
        return {
            "hard_bounces": rate(self.hard_bounces, self.sent),
            "soft_bounces": rate(self.soft_bounces, self.sent),
            "complaints": rate(self.complaints, self.sent),
            "unique_opens": rate(self.unique_opens, self.sent),
            "unique_clicks": rate(self.unique_clicks, self.sent),
            "unsubscribes": rate(self.unsubscribes, self.sent),
            "failed": rate(self.failed, self.sent + self.failed),
        }


def _unsubscribed_after() -> Exists:
    return Exists(
        Suppression.objects.annotate(lower=Lower("email")).filter(
            owner_id=OuterRef("attempt__mailing__owner_id"),
            reason=Suppression.Reason.UNSUBSCRIBED,
            lower=OuterRef("lower_email"),
            created_at__gte=OuterRef("processed_at"),
        )
    )


def report(deliveries: QuerySet[Delivery]) -> Report:
    """The report of `deliveries` (the ledger of one attempt, or all of a mailing's)."""
    sent = Q(outcome=Delivery.Outcome.SENT)
    totals = deliveries.aggregate(
        recipients=Count("pk"),
        sent=Count("pk", filter=sent),
        failed=Count("pk", filter=Q(outcome=Delivery.Outcome.FAILED)),
        skipped=Count("pk", filter=Q(outcome=Delivery.Outcome.SKIPPED)),
        pending=Count(
            "pk",
            filter=Q(outcome__in=[Delivery.Outcome.PENDING, Delivery.Outcome.CLAIMED]),
        ),
        hard_bounces=Count("pk", filter=Q(bounce_type="hard")),
        soft_bounces=Count("pk", filter=Q(bounce_type="soft")),
        complaints=Count("pk", filter=Q(complained_at__isnull=False)),
        unique_opens=Count("pk", filter=Q(first_opened_at__isnull=False)),
        opens=Sum("open_count"),
        unique_clicks=Count("pk", filter=Q(first_clicked_at__isnull=False)),
        clicks=Sum("click_count"),
    )
    counts: dict[str, int] = {k: int(v or 0) for k, v in totals.items()}
    result = Report()
    for name, value in counts.items():
        setattr(result, name, value)
    result.unsubscribes = (
        deliveries.filter(sent)
        .annotate(lower_email=Lower("email"))
        .filter(_unsubscribed_after())
        .count()
    )
    human = Engagement.objects.filter(delivery__in=deliveries, is_machine=False)
    result.links = [
        LinkRow(row["link_index"], row["url"], row["unique"], row["total"])
        for row in human.filter(kind=Engagement.Kind.CLICK)
        .values("link_index", "url")
        .annotate(total=Count("pk"), unique=Count("delivery", distinct=True))
        .order_by("-total", "link_index")[:100]
    ]
    if human.exists():
        span = _span(human)
        unit = TruncHour if span <= timedelta(days=3) else TruncDay
        result.timeline_unit = "hour" if unit is TruncHour else "day"
        rows = (
            human.annotate(bucket=unit("at"))
            .values("bucket")
            .annotate(
                opens=Count("pk", filter=Q(kind=Engagement.Kind.OPEN)),
                clicks=Count("pk", filter=Q(kind=Engagement.Kind.CLICK)),
            )
            .order_by("bucket")
        )
        result.timeline = [(r["bucket"], r["opens"], r["clicks"]) for r in rows[:500]]
    return result


def _span(events: QuerySet[Engagement]) -> timedelta:
    first = events.order_by("at").values_list("at", flat=True).first()
    last = events.order_by("-at").values_list("at", flat=True).first()
    return (last - first) if first and last else timedelta(0)


@dataclass(frozen=True, slots=True)
class OwnerSignal:
    owner_id: int
    email: str
    sent: int
    hard_bounces: int
    complaints: int

    @property
    def hard_bounce_rate(self) -> float:
        return self.hard_bounces / self.sent if self.sent else 0.0

    @property
    def complaint_rate(self) -> float:
        return self.complaints / self.sent if self.sent else 0.0


def site_rates(*, days: int = 30) -> Report:
    since = timezone.now() - timedelta(days=days)
    return report(Delivery.objects.filter(processed_at__gte=since))


def owners_over_limits(*, days: int = 30, minimum_sent: int = 100) -> list[OwnerSignal]:
    """Owners whose hard-bounce rate is over 5 % or complaint rate over 0.1 % of what
    they sent in the last `days` (at least `minimum_sent` messages, so one bounce of
    three messages raises no alarm)."""
    since = timezone.now() - timedelta(days=days)
    rows = (
        Delivery.objects.filter(processed_at__gte=since, outcome=Delivery.Outcome.SENT)
        .values("attempt__mailing__owner_id", "attempt__mailing__owner__email")
        .annotate(
            sent=Count("pk"),
            hard=Count("pk", filter=Q(bounce_type="hard")),
            complaints=Count("pk", filter=Q(complained_at__isnull=False)),
        )
        .filter(sent__gte=minimum_sent)
    )
    signals = [
        OwnerSignal(
            owner_id=row["attempt__mailing__owner_id"],
            email=row["attempt__mailing__owner__email"],
            sent=row["sent"],
            hard_bounces=row["hard"],
            complaints=row["complaints"],
        )
        for row in rows
    ]
    return sorted(
        (
            s
            for s in signals
            if s.hard_bounce_rate > HARD_BOUNCE_LIMIT
            or s.complaint_rate > COMPLAINT_LIMIT
        ),
        key=lambda s: (-s.complaint_rate, -s.hard_bounce_rate),
    )
