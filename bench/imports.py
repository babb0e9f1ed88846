"""Bulk import: n clients from a CSV through the admin's import job (the upload's
checks and storage, then the task: validated, de-duplicated, object permissions in
bulk, a transaction per batch) against a bare bulk_create of the same rows; the
target is at most 3× the bare insert. Another writer keeps writing meanwhile: the
import never holds the database's write lock for more than a moment."""

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
    rows.append(
        Row(
            f"import {large:,} clients: upload request (checks, storing the file)",
            f"{out['upload']:.2f} s",
            "≤ 3 s",
            out["upload"] <= 3,
        )
    )
    rows.append(
        Row(
            f"import {large:,} clients: longest transaction / other writer's "
            "longest wait",
            f"{out['longest_batch']:.2f} s ({out['batches']} batches) / "
            f"{out['longest_wait']:.2f} s",
            "≤ 1 s each",
            out["longest_batch"] <= 1 and out["longest_wait"] <= 1,
        )
    )
