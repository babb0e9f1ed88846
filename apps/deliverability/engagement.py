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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction

from apps.deliverability.models import Engagement
from apps.mailings.models import Delivery
from apps.mailings.sending.claims import ledger_cursor

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
        _add_to_counters(human)
    return len(rows)


# One delivery's share of a flush: opens, clicks, first open (a click counts: it
# implies an open), first click (None without one).
_Counted = tuple[int, int, int, datetime, datetime | None]
_COLUMNS = "delivery, opens, clicks, first_open, first_click"


def _add_to_counters(human: dict[int, dict[str, list[datetime]]]) -> None:
    """Add people's opens and clicks to their deliveries' counters in one UPDATE
    (on SQLite, one per batch of deliveries its parameter limit allows).

    Per delivery, as one UPDATE each would: the counts are added; clicks without
    an open count one open when there was none; the first open and the first click
    are the earlier of the stored one and the flush's."""
    counted: list[_Counted] = []
    for delivery_id, kinds in human.items():
        opens = kinds.get(Engagement.Kind.OPEN, [])
        clicks = kinds.get(Engagement.Kind.CLICK, [])
        if opens or clicks:
            counted.append(
                (
                    delivery_id,
                    len(opens),
                    len(clicks),
                    min(opens + clicks),
                    min(clicks) if clicks else None,
                )
            )
    if not counted:
        return
    if connection.vendor == "postgresql":
        # Five arrays, whatever the number of deliveries.
        hits = (
            "SELECT * FROM unnest(%s::bigint[], %s::int[], %s::int[],"
            " %s::timestamptz[], %s::timestamptz[])"
        )
        _update(hits, "LEAST", [list(values) for values in zip(*counted, strict=True)])
        return
    # SQLite (3.33 or later for UPDATE … FROM): the rows as VALUES.
    adapt = connection.ops.adapt_datetimefield_value
    size = (connection.features.max_query_params or 999) // 5
    for start in range(0, len(counted), size):
        batch = counted[start : start + size]
        hits = "VALUES " + ", ".join(["(%s, %s, %s, %s, %s)"] * len(batch))
        params: list[object] = []
        for delivery_id, open_count, click_count, first_open, first_click in batch:
            params += [
                delivery_id,
                open_count,
                click_count,
                adapt(first_open),
                adapt(first_click),
            ]
        # MIN() of SQLite is NULL when either is NULL, unlike LEAST: see COALESCE.
        _update(hits, "MIN", params)


def _update(hits: str, least: str, params: Sequence[Any]) -> None:
    quote = connection.ops.quote_name
    table = quote(Delivery._meta.db_table)
    column = {
        field.name: quote(field.column) for field in Delivery._meta.concrete_fields
    }
    opened, clicked = f"d.{column['open_count']}", f"d.{column['click_count']}"
    first_opened = f"d.{column['first_opened_at']}"
    first_clicked = f"d.{column['first_clicked_at']}"
    with ledger_cursor() as cursor:
        cursor.execute(
            f"""
            WITH hits ({_COLUMNS}) AS ({hits})
            UPDATE {table} AS d SET
                {column["open_count"]} = CASE
                    WHEN hits.opens > 0 THEN {opened} + hits.opens
                    WHEN {opened} = 0 THEN 1
                    ELSE {opened}
                END,
                {column["click_count"]} = {clicked} + hits.clicks,
                {column["first_opened_at"]} = COALESCE(
                    {least}({first_opened}, hits.first_open),
                    hits.first_open,
                    {first_opened}
                ),
                {column["first_clicked_at"]} = COALESCE(
                    {least}({first_clicked}, hits.first_click),
                    hits.first_click,
                    {first_clicked}
                )
            FROM hits
            WHERE d.{column["id"]} = hits.delivery
            """,  # noqa: S608 (names quoted by the backend; values are parameters)
            params,
        )
