"""Scale-out: `qcluster` processes on PostgreSQL + Redis sending one mailing.

    python -m bench --only scaleout            (stage of the benchmark)
    python -m bench.scaleout trigger ID N      (child: starts the run, waits, reports)

One cluster, then two, each with MAILSHOT_Q_WORKERS=2, send one SCALE_N-recipient
mailing to the counting sink. The run is started the way the cluster starts it (the
mailing becomes due and its run task is queued); that task queues helper tasks
(MAILSHOT_RUN_HELPERS, here one per other worker) which any worker of any cluster
picks up. The sink's per-recipient count shows whether anyone was served twice, the
deliveries' `claimed_by` (prefixed with MAILSHOT_NODE_NAME) shows how the work was
split, and the time from queueing to the attempt's end gives the throughput.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.__main__ import Env, Row, Run

SCALE_N = int(os.environ.get("BENCH_SCALE_N", 20_000))
WORKERS = 2


def trigger(mailing_id: int, clusters: int) -> dict:
    import django

    django.setup()
    from django.utils import timezone
    from django_q.brokers import get_broker
    from django_q.status import Stat
    from django_q.tasks import async_task

    from apps.mailings.models import Attempt, Delivery, Mailing

    broker = get_broker()
    deadline = time.monotonic() + 60
    while len(Stat.get_all(broker)) < clusters:  # every cluster up and polling
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(Stat.get_all(broker))} clusters came up")
        time.sleep(0.2)
    time.sleep(1)
    past = timezone.now() - timedelta(seconds=1)
    Mailing.objects.filter(pk=mailing_id).update(start_at=past, next_run_at=past)
    started = time.perf_counter()
    async_task("apps.mailings.tasks.run_due_mailing", mailing_id)
    deadline = time.monotonic() + 600
    while True:
        attempt = Attempt.objects.filter(mailing_id=mailing_id).first()
        if attempt and attempt.finished_at:
            break
        if time.monotonic() > deadline:
            raise SystemExit("the run did not finish within 600 s")
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    workers = Counter(
        Delivery.objects.filter(attempt=attempt).values_list("claimed_by", flat=True)
    )
    nodes: Counter[str] = Counter()
    for worker, count in workers.items():
        nodes[worker.split(":", 1)[0]] += count
    return {
        "seconds": seconds,
        "status": attempt.status,
        "sent": attempt.sent_count,
        "workers": len(workers),
        "nodes": dict(nodes),
    }


def one(clusters: int, *, env: Env, run: Run) -> dict:
    import redis

    from bench.__main__ import PY, ROOT, Sink

    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()  # no stale tasks
    seeded, _ = run("seed_mailing", SCALE_N)
    sink = Sink()
    procs = []
    extra = {
        "BENCH_SMTP_PORT": sink.port,
        "MAILSHOT_Q_SYNC": "0",
        "MAILSHOT_Q_WORKERS": WORKERS,
        "MAILSHOT_RUN_HELPERS": clusters * WORKERS - 1,
    }
    log = ROOT / "var" / "bench" / f"scaleout-{clusters}.log"
    try:
        with log.open("w") as stderr:
            for i in range(clusters):
                procs.append(
                    subprocess.Popen(  # noqa: S603
                        [PY, "manage.py", "qcluster"],
                        cwd=ROOT,
                        env=env(**extra, MAILSHOT_NODE_NAME=f"cluster{i + 1}"),
                        stdout=subprocess.DEVNULL,
                        stderr=stderr,
                    )
                )
            out = subprocess.run(  # noqa: S603
                [PY, "-m", "bench.scaleout", "trigger", str(seeded["mailing_id"])]
                + [str(clusters)],
                cwd=ROOT,
                env=env(**extra),
                capture_output=True,
                text=True,
                check=False,
            )
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        received = sink.stop()
    if out.returncode:
        raise SystemExit(f"bench: scale-out trigger failed: {out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["sink"] = received
    print(f"  scale-out, {clusters} cluster(s): {result}", file=sys.stderr)
    return result


def run(rows: list[Row], *, env: Env, run: Run, n: int, large: int) -> None:
    from bench.__main__ import Row

    url = os.environ.get("DATABASE_URL", "")
    if not (url.startswith("postgres") and os.environ.get("REDIS_URL")):
        rows.append(
            Row(
                "scale-out: two qclusters, one mailing",
                "skipped: needs DATABASE_URL (PostgreSQL) and REDIS_URL",
                "",
                None,
            )
        )
        return
    results = {c: one(c, env=env, run=run) for c in (1, 2)}
    rate = {c: SCALE_N / r["seconds"] for c, r in results.items()}
    two = results[2]
    received = two["sink"]
    once = received["duplicates"] == 0 and received["recipients"] == SCALE_N
    split = len(two["nodes"]) == 2
    shares = ", ".join(
        f"{node} {count / SCALE_N:.0%}" for node, count in sorted(two["nodes"].items())
    )
    rows.append(
        Row(
            f"scale-out {SCALE_N:,}: one qcluster ({WORKERS} workers)",
            f"{rate[1]:,.0f} msg/s; {results[1]['sink']['duplicates']} served twice",
            "",
            None,
        )
    )
    rows.append(
        Row(
            f"scale-out {SCALE_N:,}: two qclusters ({WORKERS} workers each)",
            f"{rate[2]:,.0f} msg/s ({rate[2] / rate[1]:.2f}× one cluster); "
            f"{received['duplicates']} served twice; split {shares}",
            "nobody twice, work split between both",
            once and split and two["sent"] == SCALE_N,
        )
    )


if __name__ == "__main__":
    if sys.argv[1] == "trigger":
        print(json.dumps(trigger(int(sys.argv[2]), int(sys.argv[3]))), flush=True)
