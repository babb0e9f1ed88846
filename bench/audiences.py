"""Audiences at scale (stage `audiences`): run resolution of a 100,000-member list
plus a segment, with 5,000 suppressed and 5,000 unsubscribed, against a bare
INSERT … SELECT of the same rows (target ≤ 2×); and the list, segment and mailing
pages at n/100 and n members (queries flat, time ≤ 1.5×)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.__main__ import Env, Row, Run

MODULE = "bench.audience_workloads"


def run(rows: list[Row], *, env: Env, run: Run, n: int, large: int) -> None:
    from bench.__main__ import Row, fresh_database

    out, _ = run("audience_resolution", large, module=MODULE, CACHALOT_ENABLED="0")
    print(f"  audience resolution of {large}: {out}", file=sys.stderr)
    ratio = out["seconds"] / out["bare"]
    rows.append(
        Row(
            f"run resolution: list of {large:,} + segment, {large // 20:,} suppressed, "
            f"{large // 20:,} unsubscribed → {out['rows']:,} ledger rows "
            f"({out['pending']:,} to send) vs bare INSERT … SELECT",
            f"{out['seconds'] * 1000:.0f} ms vs {out['bare'] * 1000:.0f} ms "
            f"({ratio:.2f}×)",
            "≤ 2×",
            ratio <= 2,
        )
    )
    small = max(1000, large // 100)
    results = {}
    for size in (small, large):
        fresh_database()
        out, _ = run("audience_admin_pages", size, module=MODULE, CACHALOT_ENABLED="0")
        results[size] = out["pages"]
        print(f"  audience admin at {size}: {out['pages']}", file=sys.stderr)
    for page, at_small in results[small].items():
        at_large = results[large][page]
        ratio = at_large["seconds"] / at_small["seconds"]
        same_queries = at_large["queries"] <= at_small["queries"]
        rows.append(
            Row(
                f"admin {page}: {small:,} → {large:,} list members",
                f"{at_small['seconds'] * 1000:.0f} → "
                f"{at_large['seconds'] * 1000:.0f} ms ({ratio:.2f}×), "
                f"queries {at_small['queries']} → {at_large['queries']}",
                "≤ 1.5×, queries flat",
                ratio <= 1.5 and same_queries,
            )
        )
