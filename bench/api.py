"""The API: bulk upsert of `large` clients in 10 calls against the admin's CSV
import of the same rows (target ≤ 1.5×), and the client list endpoint flat from
1,000 to `large` clients (time ≤ 1.5×, the same number of queries)."""

from __future__ import annotations

import sys


def run(rows, *, env, run, n, large) -> None:
    from bench.__main__ import Row

    module = "bench.api_workloads"
    out, _ = run("api_bulk_vs_import", large, module=module)
    print(f"  api bulk of {large}: {out}", file=sys.stderr)
    ratio = out["seconds"] / out["import"]
    rows.append(
        Row(
            f"API bulk upsert {large:,} clients in {out['calls']} calls vs the "
            "admin's CSV import",
            f"{out['seconds']:.1f} s vs {out['import']:.1f} s ({ratio:.2f}×)",
            "≤ 1.5×",
            ratio <= 1.5,
        )
    )
    small, _ = run("api_client_list", 1_000, module=module)
    big, _ = run("api_client_list", large, module=module)
    print(f"  api list: {small} / {big}", file=sys.stderr)
    for page in ("first", "middle"):
        growth = big[page] / small[page]
        same = big[f"{page}_queries"] == small[f"{page}_queries"]
        rows.append(
            Row(
                f"API client list, {page} page of 50: 1,000 → {large:,} clients",
                f"{small[page] * 1000:.1f} → {big[page] * 1000:.1f} ms "
                f"({growth:.2f}×), queries {small[f'{page}_queries']} → "
                f"{big[f'{page}_queries']}",
                "≤ 1.5×, same queries",
                growth <= 1.5 and same,
            )
        )
