"""Bulk import: n clients from a CSV through the admin's import code (streamed,
validated, de-duplicated, object permissions in bulk) against a bare bulk_create of
the same rows; the target is at most 3× the bare insert."""

from __future__ import annotations

import sys


def run(rows, *, env, run, n, large) -> None:
    from bench.__main__ import Row

    out, _ = run("import_clients", large)
    ratio = out["seconds"] / out["bare"]
    print(f"  import of {large}: {out}", file=sys.stderr)
    rows.append(
        Row(
            f"import {large:,} clients (CSV) vs bare bulk_create",
            f"{out['seconds']:.1f} s vs {out['bare']:.1f} s ({ratio:.2f}×)",
            "≤ 3×",
            ratio <= 3,
        )
    )
