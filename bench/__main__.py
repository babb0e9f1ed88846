"""`make bench`: Mailshot's speed and memory, each figure a ratio measured in one run.

    python -m bench [--only send,memory] [--n 10000] [--write-docs]

Every workload runs in its own process against a counting SMTP sink in another process
(bench/sink.py). Results are printed as one table and saved to var/bench/latest.md;
--write-docs also refreshes the table in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MAILER_N = 2_000
PY = sys.executable


# The signatures of env() and run(), which each extra stage (bench/admin.py, …) gets.
Env = Callable[..., dict[str, str]]
Run = Callable[..., tuple[dict, int]]


@dataclass
class Row:
    name: str
    value: str
    target: str
    ok: bool | None
    note: str = ""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(  # noqa: S603
            [PY, "-m", "bench.sink", str(self.port)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout and self.proc.stdout.readline().strip() == "ready"

    def stop(self) -> dict:
        """{"count", "recipients", "duplicates"} as the sink saw them."""
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=30)
        return json.loads(out.strip().splitlines()[-1])


# Debug is off, so the settings refuse a weak key; one per bench run, shared by
# every process it starts (Message-IDs are derived from it).
BENCH_SECRET_KEY = secrets.token_urlsafe(50)


def env(**extra: object) -> dict[str, str]:
    e = dict(os.environ)
    e.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        MAILSHOT_TESTING="0",
        DJANGO_DEBUG="0",
        DJANGO_HTTPS="0",
        DJANGO_SECRET_KEY=e.get("DJANGO_SECRET_KEY", BENCH_SECRET_KEY),
        MAILSHOT_Q_SYNC="1",
        LOG_LEVEL="WARNING",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        PYTHONPATH=str(ROOT),
    )
    e.update({k: str(v) for k, v in extra.items()})
    return e


def run(
    workload: str, n: int, module: str = "bench.workloads", **extra: object
) -> tuple[dict, int]:
    """Run one workload (of `module`) in a child; return its JSON result and peak
    RSS in MB."""
    log = ROOT / "var" / "bench" / f"{workload}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as stderr:
        proc = subprocess.Popen(  # noqa: S603
            [PY, "-m", module, workload, str(n)],
            cwd=ROOT,
            env=env(**extra),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        assert proc.stdout
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(
            f"bench: workload {workload} failed (exit {proc.returncode}), see {log}"
        )
    result = json.loads(out.strip().splitlines()[-1])
    return result, usage.ru_maxrss // 1024


def fresh_database() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        import psycopg2

        name = os.environ.get("BENCH_DB_NAME", "mailshot_bench")
        conn = psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
    else:
        # The same file bench/settings.py uses (MAILSHOT_VAR_DIR moves it).
        var = Path(os.environ.get("MAILSHOT_VAR_DIR") or ROOT / "var")
        for suffix in ("", "-wal", "-shm"):
            Path(var / "bench" / f"bench.sqlite3{suffix}").unlink(missing_ok=True)
        # An empty file cache too: Django's file cache lists its whole directory on
        # every write, so entries left by earlier runs would slow this one down.
        shutil.rmtree(var / "bench" / "cache", ignore_errors=True)
    subprocess.run(  # noqa: S603
        [PY, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env(),
        check=True,
    )


def measured(workload: str, n: int, **extra: Any) -> tuple[float, int, dict]:
    sink = Sink()
    try:
        result, rss = run(workload, n, BENCH_SMTP_PORT=sink.port, **extra)
    finally:
        received = sink.stop()
    if received["count"] < n:
        raise SystemExit(
            f"bench: {workload} delivered {received['count']} of {n} messages"
        )
    result["sink"] = received
    return n / result["seconds"], rss, result


def bench_send(n: int, rows: list[Row]) -> None:
    rates, results = {}, {}
    # django-mailer sends about 70 msg/s here (it logs every message and takes a
    # lock): measured on at most MAILER_N messages to keep the run short.
    sizes = {"django_mailer": min(n, MAILER_N)}
    senders = (
        "bare_smtplib",
        "bare_smtplib_threads",
        "django_send_mail",
        "post_office",
        "django_mailer",
    )
    for name in senders:
        rates[name], _, results[name] = measured(name, sizes.get(name, n))
        print(f"  {name}: {rates[name]:.0f} msg/s", file=sys.stderr)
    seeded, _ = run("seed_mailing", n)
    rates["mailshot"], rss, result = measured(
        "mailshot_send", n, BENCH_MAILING_ID=seeded["mailing_id"]
    )
    print(f"  mailshot: {rates['mailshot']:.0f} msg/s ({result})", file=sys.stderr)
    bare = rates["bare_smtplib"]
    best = max(rates["post_office"], rates["django_mailer"], rates["django_send_mail"])
    wire = rates["bare_smtplib_threads"]
    connections = results["bare_smtplib_threads"]["connections"]
    for name, label in (
        ("bare_smtplib", "bare smtplib loop, one connection"),
        (
            "bare_smtplib_threads",
            f"bare smtplib, {connections} connections in threads, bytes built before",
        ),
        ("django_send_mail", "Django send_mail, a connection each"),
        ("post_office", "django-post_office send_queued_mail"),
        ("django_mailer", "django-mailer send_mail"),
    ):
        count = sizes.get(name, n)
        rows.append(
            Row(
                f"send {count:,}: {label}",
                f"{rates[name]:,.0f} msg/s ({rates[name] / bare:.2f}× bare)",
                "",
                None,
            )
        )
    rows.append(
        Row(
            f"send {n:,}: Mailshot send_mailing",
            f"{rates['mailshot']:,.0f} msg/s ({rates['mailshot'] / bare:.2f}× bare)",
            f"> best other ({best / bare:.2f}× bare)",
            rates["mailshot"] > best,
        )
    )
    # The same with a ~10 KB HTML message (multipart/alternative, CSS inlined, five
    # links): composing is once per run, so Mailshot keeps its lead over one bare
    # connection that builds each message with the standard library.
    rates["bare_html"], _, results["bare_html"] = measured("bare_smtplib_html", n)
    seeded, _ = run("seed_mailing_html", n)
    rates["mailshot_html"], _, result = measured(
        "mailshot_send", n, BENCH_MAILING_ID=seeded["mailing_id"]
    )
    print(f"  mailshot html: {rates['mailshot_html']:.0f} msg/s", file=sys.stderr)
    size = results["bare_html"]["bytes"] / 1024
    bare_html = rates["bare_html"]
    rows.append(
        Row(
            f"send {n:,}, HTML ({size:.0f} KB): bare smtplib loop, one connection",
            f"{bare_html:,.0f} msg/s",
            "",
            None,
        )
    )
    rows.append(
        Row(
            f"send {n:,}, HTML ({size:.0f} KB): Mailshot send_mailing",
            f"{rates['mailshot_html']:,.0f} msg/s "
            f"({rates['mailshot_html'] / bare_html:.2f}× bare)",
            "≥ 2× bare",
            rates["mailshot_html"] >= 2 * bare_html,
        )
    )
    # The wire with as many connections as Mailshot opens: what is left between the two
    # is Mailshot's own work (claims, outcomes, composing), not the SMTP round trips.
    rows.append(
        Row(
            f"send {n:,}: Mailshot send_mailing vs the {connections}-connection wire",
            f"{rates['mailshot'] / wire:.2f}× wire",
            "≥ 0.85× wire",
            rates["mailshot"] >= 0.85 * wire,
        )
    )


def bench_memory(n_small: int, n_large: int, rows: list[Row]) -> None:
    peaks = {}
    for n in (n_small, n_large):
        seeded, _ = run("seed_mailing", n)
        _, peaks[n], _ = measured(
            "mailshot_send", n, BENCH_MAILING_ID=seeded["mailing_id"]
        )
        print(f"  peak RSS at {n}: {peaks[n]} MB", file=sys.stderr)
    growth = peaks[n_large] / peaks[n_small] - 1
    rows.append(
        Row(
            f"send_mailing peak RSS {n_small:,} → {n_large:,}",
            f"{peaks[n_small]} → {peaks[n_large]} MB ({growth:+.0%})",
            "≤ +10 % and < 120 MB",
            growth <= 0.10 and peaks[n_large] < 120,
        )
    )


def table(rows: list[Row]) -> str:
    lines = ["| benchmark | measured | target | met |", "|---|---|---|---|"]
    for r in rows:
        met = "" if r.ok is None else ("yes" if r.ok else "**no**")
        lines.append(f"| {r.name} | {r.value} | {r.target} | {met} |")
    return "\n".join(lines)


def database() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return "PostgreSQL" if url.startswith("postgres") else "SQLite"


def header() -> str:
    commit = subprocess.run(  # noqa: S603
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    db = database()
    return (
        f"Machine: {platform.node()} ({os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}), database {db}; "
        f"date {datetime.date.today()}; commit {commit}."
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", default="send,memory,api")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    only = set(args.only.split(","))
    started = time.monotonic()
    fresh_database()
    rows: list[Row] = []
    if "send" in only:
        bench_send(args.n, rows)
    if "memory" in only:
        bench_memory(args.n, args.large, rows)
    for extra in sorted(only - {"send", "memory"}):
        # Each stage on its own fresh database: the 100,000-recipient runs above leave
        # large tables (and, on PostgreSQL, stale planner statistics) behind.
        fresh_database()
        module = __import__(f"bench.{extra}", fromlist=["run"])
        module.run(rows, env=env, run=run, n=args.n, large=args.large)
    text = f"{header()}\n\n{table(rows)}\n"
    print(text)
    print(f"(took {time.monotonic() - started:.0f} s)", file=sys.stderr)
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.md").write_text(text)
    if args.write_docs:
        doc = ROOT / "docs" / "benchmarks.md"
        # One table per database, each between its own pair of markers.
        marker = f"<!-- bench-table:{database().lower()} -->"
        content = doc.read_text()
        head, _, rest = content.partition(marker)
        _, _, tail = rest.partition(marker)
        doc.write_text(f"{head}{marker}\n{text}{marker}{tail}")
    if any(r.ok is False for r in rows):
        print("bench: some targets were not met (see the table)", file=sys.stderr)


if __name__ == "__main__":
    main()
