"""Benchmark settings: the production settings plus the mail queues we compare with.

The database is its own (PostgreSQL `mailshot_bench` when DATABASE_URL points at one,
else a SQLite file under var/bench/), so a benchmark never touches real data.
"""

import os
from importlib.util import find_spec

from project.settings import *  # noqa: F403
from project.settings import CACHES, DATABASES, INSTALLED_APPS, VAR_DIR

# The mail queues come with `make bench` (the bench dependency group); stages that do
# not send (the API's, the admin's) also run without them.
INSTALLED_APPS = [
    *INSTALLED_APPS,
    *(app for app in ("post_office", "mailer") if find_spec(app) is not None),
]
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"]["NAME"] = os.environ.get("BENCH_DB_NAME", "mailshot_bench")
else:
    (VAR_DIR / "bench").mkdir(exist_ok=True)
    DATABASES["default"]["NAME"] = VAR_DIR / "bench" / "bench.sqlite3"
if CACHES["default"]["BACKEND"].endswith("FileBasedCache"):
    # Its own cache, emptied with the database: runs do not inherit each other's (or
    # the development server's) entries.
    CACHES["default"]["LOCATION"] = str(VAR_DIR / "bench" / "cache")
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = int(os.environ.get("BENCH_SMTP_PORT", "1025"))
EMAIL_USE_TLS = EMAIL_USE_SSL = False
EMAIL_HOST_USER = EMAIL_HOST_PASSWORD = ""
POST_OFFICE = {"DEFAULT_PRIORITY": "medium", "MESSAGE_ID_ENABLED": True}
MAILER_EMAIL_BACKEND = EMAIL_BACKEND
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# No collectstatic for benchmarks: plain static storage (page rendering is measured, not
# static file serving).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The site's URLs plus a trivial view (bench/tracking.py measures against it).
ROOT_URLCONF = "bench.urls"
