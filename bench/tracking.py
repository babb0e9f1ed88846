"""Tracking endpoints under gunicorn: requests per second of the open pixel and the
click redirect against a trivial Django view on the same server (same middleware,
same workers), and 10,000 hits of each leaving exactly 10,000 events.

    python -m bench --only tracking
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.__main__ import Env, Row, Run

HITS = 10_000
CONCURRENCY = 8
ROUNDS = 5
WORKERS = 2
TARGET = 0.5


def _hammer(port: int, paths: list[str], total: int) -> float:
    """`total` GET requests spread over `paths`, CONCURRENCY at a time; req/s."""
    counter = iter(range(total))
    lock = threading.Lock()
    errors: list[str] = []

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            try:
                conn.request(
                    "GET",
                    paths[i % len(paths)],
                    headers={
                        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
                        "Host": "127.0.0.1",
                    },
                )
                response = conn.getresponse()
                response.read()
                if response.status not in (200, 302):
                    errors.append(f"{response.status} {paths[i % len(paths)]}")
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                with lock:
                    errors.append("connection")
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(CONCURRENCY)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"bench: {len(errors)} failed requests, e.g. {errors[:3]}")
    return total / elapsed


def run(rows: list[Row], *, env: Env, run: Run, n: int, large: int) -> None:
    from bench.__main__ import PY, ROOT, Row, free_port

    seeded, _ = run("tracking_seed", 1000, module="bench.tracking")
    port = free_port()
    server = subprocess.Popen(  # noqa: S603
        [
            PY,
            "-m",
            "gunicorn",
            "bench.wsgi_tracking:application",
            "-w",
            str(WORKERS),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env(),
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/bench/trivial/", headers={"Host": "127.0.0.1"})
                conn.getresponse().read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("bench: gunicorn did not start") from None
                time.sleep(0.2)
        _hammer(port, ["/bench/trivial/"], 500)  # warm up every worker
        # Interleaved rounds, so a busy moment of the machine weighs on all three.
        rates: dict[str, list[float]] = {"trivial": [], "pixel": [], "click": []}
        paths = {
            "trivial": ["/bench/trivial/"],
            "pixel": seeded["opens"],
            "click": seeded["clicks"],
        }
        for _round in range(ROUNDS):
            for name in rates:
                rates[name].append(_hammer(port, paths[name], HITS // ROUNDS))
        trivial, pixel, click = (
            HITS / sum(HITS // ROUNDS / rate for rate in rates[name])
            for name in ("trivial", "pixel", "click")
        )
        time.sleep(2.5)  # the in-process buffers flush every second
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    counted, _ = run("tracking_count", 0, module="bench.tracking")
    print(
        f"  tracking: trivial {trivial:.0f}/s, pixel {pixel:.0f}/s, "
        f"click {click:.0f}/s, events {counted}",
        file=sys.stderr,
    )
    for name, rate in (("open pixel", pixel), ("click redirect", click)):
        rows.append(
            Row(
                f"tracking {name} under gunicorn ({WORKERS} workers) vs a trivial view",
                f"{rate:,.0f} vs {trivial:,.0f} req/s ({rate / trivial:.2f}×)",
                f"≥ {TARGET}×",
                rate / trivial >= TARGET,
            )
        )
    rows.append(
        Row(
            f"tracking: {HITS:,} opens + {HITS:,} clicks → events",
            f"{counted['open']:,} opens, {counted['click']:,} clicks",
            "exactly as many, none lost or doubled",
            counted["open"] == HITS and counted["click"] == HITS,
        )
    )


def seed(n: int) -> dict[str, Any]:
    from datetime import timedelta

    from django.utils import timezone

    from apps.deliverability import tracking
    from apps.mailings.models import Attempt, Delivery, Mailing, Message
    from apps.users.models import User

    owner = User.objects.create_user(email="tracking@bench.example", password="x")
    message = Message.objects.create(owner=owner, subject="s", body="b")
    now = timezone.now()
    mailing = Mailing.objects.create(
        owner=owner,
        message=message,
        start_at=now,
        end_at=now + timedelta(days=1),
    )
    links = [f"https://shop.example/item/{i}" for i in range(5)]
    attempt = Attempt.objects.create(mailing=mailing, attempted_at=now, links=links)
    sent = now - timedelta(hours=1)
    Delivery.objects.bulk_create(
        Delivery(
            attempt=attempt,
            email=f"r{i}@example.org",
            outcome="sent",
            processed_at=sent,
        )
        for i in range(n)
    )
    ids = list(Delivery.objects.filter(attempt=attempt).values_list("pk", flat=True))
    return {
        "opens": [f"/t/o/{tracking.open_token(attempt.pk, d)}.gif" for d in ids],
        "clicks": [
            f"/t/c/{tracking.click_token(attempt.pk, d, d % len(links))}/" for d in ids
        ],
    }


def count() -> dict[str, int]:
    from apps.deliverability import tracking
    from apps.deliverability.models import Engagement

    tracking.flush()  # what Redis still holds (the cluster's minute)
    return {
        kind: Engagement.objects.filter(kind=kind).count() for kind in ("open", "click")
    }


if __name__ == "__main__":
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()
    workload, number = sys.argv[1], int(sys.argv[2])
    result = seed(number) if workload == "tracking_seed" else count()
    print(json.dumps(result))
