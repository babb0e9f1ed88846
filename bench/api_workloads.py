"""The API's measured workloads, one per process: `python -m bench.api_workloads
NAME N`. Requests go through the whole Django stack (middleware, URLs, ninja) with
Django's test client, in the process, so the figures are the server's work without
a network in between.
"""

from __future__ import annotations

import json
import sys
import time


def _django() -> None:
    import django

    django.setup()
    from django.conf import settings

    # The rate limit is not what is measured.
    settings.MAILSHOT_API_RATE = 10**9


def _api(email: str):
    from django.test import Client as HttpClient

    from apps.api import services
    from bench.seed import bench_user

    user = bench_user(email)
    _key, token = services.api_key_create(owner=user, name="bench", scope="read_write")
    return user, HttpClient(headers={"Authorization": f"Bearer {token}"})


def api_bulk_vs_import(n: int) -> dict:
    """n clients in 10 bulk-upsert calls of the API, against the admin's CSV import
    (the upload's checks and storage, then the import task) of the same rows."""
    _django()
    import csv
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile

    from apps.mailings import import_jobs
    from apps.mailings.models import Client

    rows = [(f"i{i}@example.org", f"Reader {i}", "from the fair") for i in range(n)]
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["email", "full_name", "comment"])
    writer.writerows(rows)
    from bench.seed import bench_user

    importer = bench_user("import-csv@example.com")
    started = time.perf_counter()
    job = import_jobs.client_import_create(
        owner=importer,
        upload=SimpleUploadedFile("clients.csv", text.getvalue().encode(), "text/csv"),
        file_format="csv",
    )
    import_jobs.client_import_run(job.pk)
    imported = time.perf_counter() - started
    job.refresh_from_db()
    assert job.status == "done" and job.created_count == n, job.problem

    user, http = _api("import-api@example.com")
    calls = 10
    size = -(-n // calls)
    bodies = [
        json.dumps(
            {
                "clients": [
                    {"email": e, "full_name": name, "comment": comment}
                    for e, name, comment in rows[start : start + size]
                ]
            }
        )
        for start in range(0, n, size)
    ]
    started = time.perf_counter()
    for body in bodies:
        response = http.post(
            "/api/v1/clients/bulk", body, content_type="application/json"
        )
        assert response.status_code == 200, response.content[:500]
    api = time.perf_counter() - started
    assert Client.objects.filter(owner=user).count() == n
    return {"seconds": api, "import": imported, "calls": len(bodies)}


def api_client_list(n: int) -> dict:
    """The first page and a page from the middle of a list of n clients: median
    time of 30 requests each, and the queries one request makes."""
    _django()
    import statistics

    from cachalot.api import cachalot_disabled
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.api.pagination import encode_cursor
    from apps.mailings.models import Client
    from bench.seed import seed_clients

    user, http = _api(f"list-{n}@example.com")
    seed_clients(user, n)
    from django.db import connection as db

    if db.vendor == "postgresql":
        # What autovacuum does after a large insert (as bench/seed.py does).
        with db.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    ids = list(
        Client.objects.filter(owner=user).order_by("pk").values_list("pk", flat=True)
    )
    middle = encode_cursor(ids[len(ids) // 2])
    results: dict[str, float | int] = {}
    # Cachalot off: every request reads the database, as the first one after a write.
    with cachalot_disabled():
        for name, url in (
            ("first", "/api/v1/clients?limit=50"),
            ("middle", f"/api/v1/clients?limit=50&cursor={middle}"),
        ):
            assert http.get(url).status_code == 200  # warm up
            times = []
            for _ in range(30):
                started = time.perf_counter()
                response = http.get(url)
                times.append(time.perf_counter() - started)
                assert response.status_code == 200
                assert len(response.json()["items"]) == 50
            results[name] = statistics.median(times)
            with CaptureQueriesContext(connection) as queries:
                http.get(url)
            results[f"{name}_queries"] = len(queries)
    results["seconds"] = results["first"]
    return results


WORKLOADS = {f.__name__: f for f in (api_bulk_vs_import, api_client_list)}

if __name__ == "__main__":
    name, n = sys.argv[1], int(sys.argv[2])
    print(json.dumps(WORKLOADS[name](n)), flush=True)
