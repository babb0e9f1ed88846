import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from apps.blog.selectors import blog_cache_bump
from apps.home.selectors import home_statistics_forget


@pytest.fixture(autouse=True)
def fresh_site_cache():
    """The test cache lives as long as the test process: start from empty pages."""
    blog_cache_bump()
    home_statistics_forget()


@pytest.fixture
def other_process(transactional_db, tmp_path):
    """run(code): run ``manage.py shell -c code`` in a second process that shares this
    test's database and cache, as the cluster or a command would in production.

    The database must be one both processes can open, with committed data (hence
    ``transactional_db``):
    - PostgreSQL (DATABASE_URL set): the test database itself, by name.
    - SQLite: the test database lives in this process's memory, which no other
      process can open. The fixture copies it (schema and rows) into a file with
      SQLite's backup API and points this process's connection at that file for the
      duration of the test, keeping a handle on the in-memory database so that it
      survives and is restored afterwards.
    The cache is the test process's own: the same file-cache directory, or the same
    Redis database and key prefix.
    """
    db = connection.settings_dict
    env = {
        **os.environ,
        "MAILSHOT_TESTING": "1",
        "DJANGO_DEBUG": "0",
        "MAILSHOT_VAR_DIR": str(tmp_path / "var"),
    }
    cache = settings.CACHES["default"]
    if "redis" in cache["BACKEND"].lower():
        env["REDIS_URL"] = cache["LOCATION"]
        env["MAILSHOT_CACHE_PREFIX"] = cache["KEY_PREFIX"]
    else:
        env.pop("REDIS_URL", None)
        env["MAILSHOT_CACHE_LOCATION"] = cache["LOCATION"]

    swapped = None
    if connection.vendor == "postgresql":
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        env["DATABASE_URL"] = (
            f"postgres://{db['USER']}{password}@{db['HOST'] or 'localhost'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        )
    elif connection.vendor == "sqlite":
        path = tmp_path / "shared.sqlite3"
        connection.ensure_connection()
        target = sqlite3.connect(path)
        connection.connection.backup(target)
        target.close()
        swapped = (connection.connection, db["NAME"])
        connection.connection = None  # detached, not closed: closing would drop it
        db["NAME"] = str(path)
        env["DATABASE_URL"] = f"sqlite:///{path}"
    else:  # pragma: no cover
        pytest.skip(f"no second-process setup for {connection.vendor}")

    def run(code: str) -> str:
        result = subprocess.run(  # noqa: S603
            [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "shell"]
            + ["-c", code],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    try:
        yield run
    finally:
        if swapped is not None:
            connection.close()
            connection.connection, db["NAME"] = swapped
