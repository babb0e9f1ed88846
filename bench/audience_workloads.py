"""Audience workloads, one per process: `python -m bench.audience_workloads NAME N`.

Prints one JSON line. Run with DJANGO_SETTINGS_MODULE=bench.settings.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from datetime import timedelta
from typing import Any

REPEATS = 3


def _django() -> None:
    import django

    django.setup()


def seed_audience(n: int, email: str) -> dict[str, Any]:
    """One user with n + n/10 clients: a list of the first n (subscribed), a segment
    (city = Tver: every tenth client, a tenth of them outside the list), n/20
    suppressed by the owner and n/20 unsubscribed; a mailing to list + segment."""
    from django.db import connection, transaction
    from django.utils import timezone

    from apps.audiences.models import ClientList, Segment, Subscription, Suppression
    from apps.core import permissions
    from apps.mailings.models import Client, Mailing, Message
    from bench.seed import BATCH, analyze, bench_user

    user = bench_user(email)
    total = n + n // 10
    with transaction.atomic():
        for start in range(0, total, BATCH):
            Client.objects.bulk_create(
                Client(
                    owner=user,
                    email=f"r{i}@example.org",
                    full_name=f"Reader {i}",
                    attributes={"city": "Tver"} if i % 10 == 0 else {"city": "Oslo"},
                    is_unsubscribed=i % 20 == 2,
                )
                for i in range(start, min(total, start + BATCH))
            )
        ids = list(
            Client.objects.filter(owner=user)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        permissions.owner_permissions_grant_new(owner=user, model=Client, ids=ids)
        newsletter = ClientList.objects.create(owner=user, name="Newsletter")
        permissions.owner_permissions_grant(owner=user, objects=newsletter)
        now = timezone.now()
        for start in range(0, n, BATCH):
            Subscription.objects.bulk_create(
                Subscription(
                    client_id=pk, client_list=newsletter, status="subscribed",
                    confirmed_at=now,
                )
                for pk in ids[start : min(n, start + BATCH)]
            )  # fmt: skip
        Suppression.objects.bulk_create(
            (
                Suppression(owner=user, email=f"r{i}@example.org", reason="manual")
                for i in range(1, total, 20)
            ),
            batch_size=BATCH,
        )
        segment = Segment.objects.create(
            owner=user,
            name="Tver",
            rules=[{"condition": "attr_equals", "field": "city", "value": "Tver"}],
        )
        permissions.owner_permissions_grant(owner=user, objects=segment)
        message = Message.objects.create(owner=user, subject="News", body="Hello")
        permissions.owner_permissions_grant(owner=user, objects=message)
        mailing = Mailing.objects.create(
            owner=user,
            message=message,
            start_at=now + timedelta(days=1),
            end_at=now + timedelta(days=30),
        )
        mailing.lists.add(newsletter)
        mailing.segments.add(segment)
        permissions.owner_permissions_grant(owner=user, objects=mailing)
        # A page of mailings to list, as the admin shows them.
        for _ in range(60):
            other = Mailing.objects.create(
                owner=user,
                message=message,
                start_at=now + timedelta(days=1),
                end_at=now + timedelta(days=30),
            )
            other.lists.add(newsletter)
        permissions.owner_permissions_grant(
            owner=user, objects=Mailing.objects.filter(owner=user)
        )
    analyze()
    del connection
    return {
        "user": user.pk,
        "mailing": mailing.pk,
        "list": newsletter.pk,
        "segment": segment.pk,
    }


def audience_resolution(n: int) -> dict[str, Any]:
    """The ledger of a run to a list of n plus a segment (run resolution) against a
    bare INSERT … SELECT of the same rows from a table of their ids."""
    _django()
    from django.db import connection, transaction
    from django.utils import timezone

    from apps.mailings.models import Attempt, Delivery
    from apps.mailings.sending import runs

    seeded = seed_audience(n, "audience@example.com")
    mailing_id = seeded["mailing"]
    attempt = Attempt.objects.create(mailing_id=mailing_id, attempted_at=timezone.now())
    timings, rows = [], 0
    for _ in range(REPEATS):
        Delivery.objects.filter(attempt=attempt).delete()
        with transaction.atomic():
            started = time.perf_counter()
            rows = runs._insert_ledger(attempt.pk, mailing_id)
            timings.append(time.perf_counter() - started)
    pending = Delivery.objects.filter(attempt=attempt, outcome="pending").count()
    quote = connection.ops.quote_name
    table = quote(Delivery._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_resolved")
        cursor.execute(
            "CREATE TABLE bench_resolved (id integer PRIMARY KEY, outcome varchar(10))"
        )
        cursor.execute(
            f"INSERT INTO bench_resolved SELECT client_id, outcome FROM {table} "  # noqa: S608
            "WHERE attempt_id = %s",
            [attempt.pk],
        )
    bare = []
    for _ in range(REPEATS):
        Delivery.objects.filter(attempt=attempt).delete()
        with transaction.atomic(), connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(
                f"INSERT INTO {table} (attempt_id, client_id, email, outcome, "  # noqa: S608
                "server_response, message_id, claimed_by, tries) "
                "SELECT %s, c.id, c.email, r.outcome, '', '', '', 0 "
                "FROM mailings_client c JOIN bench_resolved r ON r.id = c.id "
                "ORDER BY c.id",
                [attempt.pk],
            )
            bare.append(time.perf_counter() - started)
            assert cursor.rowcount == rows
    return {
        "seconds": statistics.median(timings),
        "bare": statistics.median(bare),
        "rows": rows,
        "pending": pending,
    }


def audience_admin_pages(n: int) -> dict[str, Any]:
    """Median time and query count of the list, segment and mailing pages of a user
    whose list has n members."""
    _django()
    from django.db import connection
    from django.test import Client as HttpClient
    from django.test.utils import CaptureQueriesContext

    from apps.users.models import User

    seeded = seed_audience(n, f"audience{n}@example.com")
    user = User.objects.get(pk=seeded["user"])
    http = HttpClient()
    http.force_login(user, backend="apps.users.backends.EmailBackend")
    pages = {
        "list of lists": "/admin/audiences/clientlist/",
        "list page": f"/admin/audiences/clientlist/{seeded['list']}/change/",
        "segment list": "/admin/audiences/segment/",
        "segment page": f"/admin/audiences/segment/{seeded['segment']}/change/",
        "mailing list": "/admin/mailings/mailing/",
        "mailing page": f"/admin/mailings/mailing/{seeded['mailing']}/change/",
        "mailing form": "/admin/mailings/mailing/add/",
        "suppression list": "/admin/audiences/suppression/",
    }
    result = {}
    for name, url in pages.items():
        http.get(url)
        times = []
        for _ in range(5):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = http.get(url)
                times.append(time.perf_counter() - started)
            assert response.status_code == 200, (url, response.status_code)
        result[name] = {"seconds": statistics.median(times), "queries": len(queries)}
    return {"seconds": 0, "pages": result}


WORKLOADS = {f.__name__: f for f in (audience_resolution, audience_admin_pages)}

if __name__ == "__main__":
    name, n = sys.argv[1], int(sys.argv[2])
    print(json.dumps(WORKLOADS[name](n)), flush=True)
