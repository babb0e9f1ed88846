"""Recording opens and clicks, and telling people from machines.

Every hit becomes an ``Engagement`` row; the delivery's ``open_count``,
``click_count``, ``first_opened_at`` and ``first_clicked_at`` count people only.

The rule for machines (documented in the README, "Opens and clicks"):

* an open or click less than ``MACHINE_SECONDS`` (10 s) after the delivery was
  sent — a mail provider fetching images on arrival, or a link scanner following
  every link before the recipient could have read a word;
* a request whose User-Agent names a known fetcher (``MACHINE_AGENTS``: image
  proxies and link scanners that announce themselves).

Machine events stay in the table (an administrator can look at them) but are left
out of the counters and of unique counts. A click implies an open: a person who
clicks without the pixel loading (images off) is counted as having opened.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import models, transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Coalesce, Least

from apps.deliverability.models import Engagement
from apps.mailings.models import Delivery

MACHINE_SECONDS = 10
MACHINE_AGENTS = (
    "googleimageproxy",
    "yahoomailproxy",
    "barracuda",
    "proofpoint",
    "mimecast",
    "bingpreview",
    "python-requests",
    "curl/",
    "wget/",
    "go-http-client",
    "microsoft office",  # Safe Links pre-fetch
)


@dataclass(frozen=True, slots=True)
class Hit:
    delivery_id: int
    kind: str  # Engagement.Kind
    at: datetime
    user_agent: str = ""
    link_index: int | None = None
    url: str = ""
    source: str = "tracking"


def _count(n: int) -> Value:
    return Value(n, output_field=models.PositiveIntegerField())


def is_machine_agent(user_agent: str) -> bool:
    agent = (user_agent or "").lower()
    return any(marker in agent for marker in MACHINE_AGENTS)


def record(hits: Iterable[Hit]) -> int:
    """Write `hits` (any number, any deliveries) in a few statements; returns how
    many were written (hits of deliveries that no longer exist are dropped)."""
    hits = list(hits)
    if not hits:
        return 0
    ids = {hit.delivery_id for hit in hits}
    sent_at = dict(
        Delivery.objects.filter(pk__in=ids).values_list("pk", "processed_at")
    )
    rows: list[Engagement] = []
    human: dict[int, dict[str, list[datetime]]] = defaultdict(lambda: defaultdict(list))
    for hit in hits:
        if hit.delivery_id not in sent_at:
            continue
        processed = sent_at[hit.delivery_id]
        machine = is_machine_agent(hit.user_agent) or (
            processed is not None
            and hit.at - processed < timedelta(seconds=MACHINE_SECONDS)
        )
        rows.append(
            Engagement(
                delivery_id=hit.delivery_id,
                kind=hit.kind,
                at=hit.at,
                link_index=hit.link_index,
                url=hit.url[:2000],
                is_machine=machine,
                source=hit.source,
            )
        )
        if not machine:
            human[hit.delivery_id][hit.kind].append(hit.at)
    with transaction.atomic():
        Engagement.objects.bulk_create(rows, batch_size=1000)
        for delivery_id, kinds in human.items():
            opens = kinds.get(Engagement.Kind.OPEN, [])
            clicks = kinds.get(Engagement.Kind.CLICK, [])
            changes: dict[str, object] = {}
            first_open = min(opens + clicks) if (opens or clicks) else None
            if opens:
                changes["open_count"] = F("open_count") + _count(len(opens))
            elif clicks:
                # A click implies an open (images were off): count one if none yet.
                changes["open_count"] = Case(
                    When(open_count=0, then=_count(1)),
                    default=F("open_count"),
                    output_field=models.PositiveIntegerField(),
                )
            if first_open is not None:
                changes["first_opened_at"] = Coalesce(
                    Least("first_opened_at", Value(first_open)), Value(first_open)
                )
            if clicks:
                first_click = min(clicks)
                changes["click_count"] = F("click_count") + _count(len(clicks))
                changes["first_clicked_at"] = Coalesce(
                    Least("first_clicked_at", Value(first_click)), Value(first_click)
                )
            Delivery.objects.filter(pk=delivery_id).update(**changes)
    return len(rows)
