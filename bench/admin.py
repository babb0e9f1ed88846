"""Admin at scale: the pages one user opens, at n/100 and at n clients (with n/100
mailings and n attempts and deliveries); the query count must not grow with the data
and time at the large size must stay within 1.5× time at the small one."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.__main__ import Env, Row, Run


def run(rows: list[Row], *, env: Env, run: Run, n: int, large: int) -> None:
    from bench.__main__ import Row

    small = max(1000, large // 100)
    results = {}
    for size in (small, large):
        # cachalot off: measure the database work, as right after any write.
        out, _ = run("admin_pages", size, CACHALOT_ENABLED="0")
        results[size] = out["pages"]
        print(f"  admin at {size}: {out['pages']}", file=sys.stderr)
    for page, at_small in results[small].items():
        at_large = results[large][page]
        ratio = at_large["seconds"] / at_small["seconds"]
        same_queries = at_large["queries"] <= at_small["queries"]
        rows.append(
            Row(
                f"admin {page}: {small:,} → {large:,} clients",
                f"{at_small['seconds'] * 1000:.0f} → "
                f"{at_large['seconds'] * 1000:.0f} ms ({ratio:.2f}×), "
                f"queries {at_small['queries']} → {at_large['queries']}",
                "≤ 1.5×, queries flat",
                ratio <= 1.5 and same_queries,
            )
        )
