"""Mailshot settings: one module, driven by environment variables.

With no environment set, the embedded profile is used: SQLite and a file cache under
``var/`` and django-q2's ORM broker. ``DATABASE_URL`` and ``REDIS_URL`` switch to
PostgreSQL and Redis.
"""

import os
import sys
import tempfile
from pathlib import Path

import environ
from django.templatetags.static import static
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
VAR_DIR = Path(env.str("MAILSHOT_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# Under pytest: fast hashing, a synchronous queue, a private cache (see the end).
TESTING = env.bool("MAILSHOT_TESTING", default="pytest" in sys.modules)

# The development `.env` that `make run` writes (a generated DJANGO_SECRET_KEY), so
# the README's manage.py and cron examples work from a fresh clone. Variables of the
# environment win over it; tests never read it; production sets its own variables
# and has no such file (it holds no DJANGO_DEBUG, so it never turns debugging on).
MAILSHOT_ENV_FILE = Path(env.str("MAILSHOT_ENV_FILE", default=str(BASE_DIR / ".env")))
if TESTING:
    # Nor do the servers and commands the tests start (they inherit this).
    os.environ.setdefault("MAILSHOT_ENV_FILE", os.devnull)
elif MAILSHOT_ENV_FILE.is_file():
    environ.Env.read_env(MAILSHOT_ENV_FILE)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# An insecure key is only accepted while debugging or testing; production must set one.
SECRET_KEY = env.str(
    "DJANGO_SECRET_KEY",
    default="django-insecure-mailshot-development-key-change-me"
    if DEBUG or TESTING
    else "",
)
if not SECRET_KEY:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is not set (set it, or DJANGO_DEBUG=1 for development)."
    )
if not (DEBUG or TESTING):
    # Sessions, password-reset and confirmation links are signed with it: production
    # refuses a short, low-entropy or development key at start-up.
    from apps.core.validators import secret_key_weakness

    if weakness := secret_key_weakness(SECRET_KEY):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            f"DJANGO_SECRET_KEY is too weak for production: {weakness}. Make one "
            "with: python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
SITE_URL = env.str("SITE_URL", default="http://localhost:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[SITE_URL])

# --- HTTPS ---
HTTPS = env.bool("DJANGO_HTTPS", default=not (DEBUG or TESTING))
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"  # Unfold marks the few views it frames itself
SESSION_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "apps.core.views.csrf_failure"  # translated, in the site's look
# /healthz shows its details (engines, errors, cluster) to superusers and to a monitor
# sending "Authorization: Bearer <this token>"; everybody else gets ok or degraded.
MAILSHOT_HEALTH_TOKEN = env.str("MAILSHOT_HEALTH_TOKEN", default="")
# Content-Security-Policy (apps.core.middleware): nothing but this site's own files.
# The admin and account pages (Unfold) also need eval for Alpine.js and inline styles.
CSP_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
}
CSP_ADMIN_POLICY = {
    **CSP_POLICY,
    "script-src": "'self' 'unsafe-eval'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data: blob:",
}
CSP_ADMIN_PATHS = ["/admin/", "/accounts/", "/ckeditor5/"]

# --- Applications ---
INSTALLED_APPS = [
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "unfold.contrib.import_export",
    # Unfold's guardian integration must come before guardian itself: the first app
    # wins a template lookup, and guardian's own pages are unstyled under Unfold.
    "unfold.contrib.guardian",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "guardian",
    "django_q",
    "django_ckeditor_5",
    "cachalot",
    "import_export",
    "axes",
    # django-ninja's Swagger UI files, served locally (no CDN) for /api/v1/docs.
    "ninja",
    "apps.core",
    "apps.users",
    "apps.content",
    "apps.mailings",
    "apps.audiences",
    "apps.blog",
    "apps.home",
    "apps.api",
    "apps.deliverability",
]

# Sessions carry their user's id in an indexed column, so blocking someone ends their
# sessions with one query instead of decoding every session of the site
# (apps/users/sessions.py; django.contrib.sessions stays installed for clearsessions).
SESSION_ENGINE = "apps.users.sessions"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apps.core.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # After the language is chosen: its 400 page is translated.
    "apps.core.middleware.ControlCharactersMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The person's own time zone for everything after (forms, lists, messages).
    "apps.core.middleware.TimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A session ended on purpose (blocked) lands on the login page, which says why.
    "apps.users.session_notices.EndedSessionMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Axes must be last: it inspects the response of the login views.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"
ASGI_APPLICATION = "project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---
DATABASE_URL = env.str("DATABASE_URL", default="")
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    # IMMEDIATE transactions and a busy timeout make concurrent writers (web, cluster,
    # commands) wait for one another instead of losing enqueued tasks; a writer kept
    # waiting past the timeout still gets "database is locked", which the sending
    # engine's writes retry (apps/mailings/locking.py).
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "mailshot.sqlite3",
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA busy_timeout=20000;"
                ),
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ---
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str(
                "MAILSHOT_CACHE_PREFIX",
                # Each test process gets its own keys: its test database is its own.
                default=f"mailshot-test-{os.getpid()}" if TESTING else "mailshot",
            ),
        }
    }
else:
    # A file cache is shared by the web process, the cluster and commands on one host;
    # locmem is per process and would keep serving stale rows after another process
    # writes.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": env.str(
                "MAILSHOT_CACHE_LOCATION",
                default=tempfile.mkdtemp(prefix="mailshot-cache-")
                if TESTING
                else str(VAR_DIR / "cache"),
            ),
            "OPTIONS": {"MAX_ENTRIES": 20000},
        }
    }

# django-cachalot caches the app's ORM queries; django-q2's tables are polled with now()
# and would fill the cache with one key per poll.
CACHALOT_ENABLED = env.bool("CACHALOT_ENABLED", default=True)
CACHALOT_TIMEOUT = 60 * 60 * 24
CACHALOT_UNCACHABLE_APPS = ["django_q", "sessions", "axes", "admin"]
# Import jobs are polled while a worker updates them: caching them only churns. A run
# writes its deliveries (the per-recipient ledger) every few milliseconds: each write
# would invalidate the table in the cache (a file write, or a Redis call) for pages
# that re-read it anyway. Cachalot neither caches a query that touches an uncachable
# table nor invalidates on its writes, so nobody ever reads a stale ledger.
CACHALOT_UNCACHABLE_TABLES = [
    "django_migrations",
    # Its member counts are written by database triggers, which cachalot never sees.
    "audiences_clientlist",
    "mailings_clientimport",
    "mailings_delivery",
    # The session store reads with now(), like the django_q broker: one key per request
    # (the "sessions" app above was the old table).
    "users_usersession",
]

# --- Task queue (django-q2) ---
Q_CLUSTER = {
    "name": "mailshot",
    "workers": env.int("MAILSHOT_Q_WORKERS", default=2),
    "recycle": 500,
    # A run holds a 60 s lease and re-checks it between recipients; a task that runs
    # longer than `timeout` is killed. django-q2 hands a task out again when it is not
    # acknowledged within `retry` seconds, so `retry` must exceed `timeout` or a task
    # that is still running is handed out twice.
    "timeout": env.int("MAILSHOT_Q_TIMEOUT", default=600),
    "retry": env.int("MAILSHOT_Q_RETRY", default=720),
    "max_attempts": 3,
    "catch_up": False,
    "save_limit": 1000,
    "ack_failures": True,
    "poll": 1,
    "label": "Django Q2",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
if env.bool("MAILSHOT_Q_SYNC", default=TESTING):
    Q_CLUSTER["sync"] = True

# --- Authentication ---
AUTH_USER_MODEL = "users.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "apps.users.backends.EmailBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# Otherwise guardian creates an "AnonymousUser" row in the user table.
ANONYMOUS_USER_NAME = None
GUARDIAN_USER_OBJ_PERMS_MODEL = "guardian.UserObjectPermission"
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"  # noqa: E501
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "admin:index"
MAILSHOT_CONFIRMATION_MAX_AGE_DAYS = env.int(
    "MAILSHOT_CONFIRMATION_MAX_AGE_DAYS", default=3
)
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24
# Submissions per hour of each account-mail form (registration, new confirmation link,
# password reset): per client address, and for the whole site. On top of one mail of
# a kind per account a minute, so nobody keeps mail flowing to addresses they name.
MAILSHOT_ACCOUNT_MAIL_PER_IP = env.int("MAILSHOT_ACCOUNT_MAIL_PER_IP", default=10)
MAILSHOT_ACCOUNT_MAIL_GLOBAL = env.int("MAILSHOT_ACCOUNT_MAIL_GLOBAL", default=300)

# django-axes: lock an account/address after repeated failed logins.
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "users/lockout.html"
# Renders that template with the admin theme's context (colours, styles).
AXES_LOCKOUT_CALLABLE = "apps.users.views.lockout"
AXES_VERBOSE = False
# Behind N reverse proxies (the TLS proxy of docs/deploy.md is one), the client is
# the N-th X-Forwarded-For entry from the right; 0 trusts no header. Axes and the
# account-mail rate limits read the address through the same function.
MAILSHOT_TRUSTED_PROXIES = env.int("MAILSHOT_TRUSTED_PROXIES", default=0)
AXES_CLIENT_IP_CALLABLE = "apps.users.throttle.client_ip"

# --- Internationalisation ---
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ru", _("Russian"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static and media ---
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MAILSHOT_MEDIA_ROOT", default=str(VAR_DIR / "media")))
SERVE_MEDIA = env.bool("MAILSHOT_SERVE_MEDIA", default=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not (DEBUG or TESTING)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Without collectstatic (development, tests) whitenoise serves from the finders.
WHITENOISE_USE_FINDERS = DEBUG or TESTING
WHITENOISE_AUTOREFRESH = DEBUG or TESTING
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- E-mail ---
EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env.str("EMAIL_HOST", default="127.0.0.1")
    EMAIL_PORT = env.int("EMAIL_PORT", default=1025)
    EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
    EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
    EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
# Django's default of None lets a silent server hang a worker forever.
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str(
    "DEFAULT_FROM_EMAIL", default="Mailshot <noreply@localhost>"
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL
MAILSHOT_MAIL_DIR = VAR_DIR / "mail"

# --- Sending engine ---
MAILSHOT_SEND_RATE = env.float("MAILSHOT_SEND_RATE", default=0)  # 0 = unlimited
MAILSHOT_LEASE_SECONDS = env.int("MAILSHOT_LEASE_SECONDS", default=60)  # at most 60
# Temporary SMTP trouble (4xx, timeouts, dropped connections) is retried this many
# times per recipient, waiting BACKOFF, 2×BACKOFF, … seconds, before the run stops
# and leaves the rest pending for the next tick.
MAILSHOT_SMTP_RETRIES = env.int("MAILSHOT_SMTP_RETRIES", default=3)
MAILSHOT_SMTP_BACKOFF = env.float("MAILSHOT_SMTP_BACKOFF", default=1.0)
MAILSHOT_BATCH_SIZE = env.int("MAILSHOT_BATCH_SIZE", default=100)  # claimed at once
# SMTP connections one worker sends over at once (fewer under a low send rate).
MAILSHOT_SMTP_CONNECTIONS = env.int("MAILSHOT_SMTP_CONNECTIONS", default=4)
# Helper tasks a cluster run queues so other workers (of any cluster) serve the same
# run; -1 = one per other worker of the running clusters.
MAILSHOT_RUN_HELPERS = env.int("MAILSHOT_RUN_HELPERS", default=-1)
# Names this host in worker ids (Delivery.claimed_by); the host name by default.
MAILSHOT_NODE_NAME = env.str("MAILSHOT_NODE_NAME", default="")
# A recipient the server keeps deferring is marked failed after this many runs tried it.
MAILSHOT_MAX_TRIES_PER_RECIPIENT = env.int(
    "MAILSHOT_MAX_TRIES_PER_RECIPIENT", default=5
)
# Domains whose mail this site signs (DKIM): a verified sender address on one of
# them may be a mailing's From; any other goes in Reply-To (apps.content.senders).
MAILSHOT_SENDER_DOMAINS = env.list("MAILSHOT_SENDER_DOMAINS", default=[])

# --- Bounces (apps.deliverability) ---
# The mailbox bounces go to: each delivery's envelope sender becomes
# <local part>+<token>@<domain> (VERP), so a bounce names its delivery.
MAILSHOT_BOUNCE_ADDRESS = env.str("MAILSHOT_BOUNCE_ADDRESS", default="")
# Read every minute by the cluster and by `manage.py fetch_bounces`:
# imaps://user:password@host/INBOX (imap:// without TLS, for a local server only).
MAILSHOT_BOUNCE_IMAP_URL = env.str("MAILSHOT_BOUNCE_IMAP_URL", default="")

# Open and click tracking, unless a mailing says otherwise (its own switches).
MAILSHOT_TRACKING = env.bool("MAILSHOT_TRACKING", default=True)

# ESP tracking webhooks at /webhooks/<esp>/tracking/ (django-anymail): basic-auth
# "user:password" for Amazon SES, Postmark, SendGrid and Brevo; Mailgun signs its
# requests with its webhook signing key. An ESP left unconfigured answers 404.
ANYMAIL = {
    "WEBHOOK_SECRET": env.str("MAILSHOT_WEBHOOK_SECRET", default=""),
    "MAILGUN_WEBHOOK_SIGNING_KEY": env.str(
        "MAILSHOT_MAILGUN_WEBHOOK_SIGNING_KEY", default=""
    ),
    # SES: confirm the SNS subscription only for topics of this account.
    "AMAZON_SES_AUTO_CONFIRM_SNS_SUBSCRIPTIONS": True,
}

# --- Client imports (run as background tasks) ---
# Refused at upload: a bigger file, more data rows, or an XLSX whose parts would
# unpack to more bytes (a zip bomb); rows and unpacked bytes are checked again
# while the task reads the file.
MAILSHOT_IMPORT_MAX_BYTES = env.int("MAILSHOT_IMPORT_MAX_BYTES", default=20 * 2**20)
MAILSHOT_IMPORT_MAX_ROWS = env.int("MAILSHOT_IMPORT_MAX_ROWS", default=200_000)
MAILSHOT_IMPORT_MAX_UNPACKED_BYTES = env.int(
    "MAILSHOT_IMPORT_MAX_UNPACKED_BYTES", default=100 * 2**20
)
# Uploaded files wait here for the task: private (not under the served media) and
# shared by the web server and every cluster that may run the task.
MAILSHOT_IMPORT_DIR = Path(
    env.str(
        "MAILSHOT_IMPORT_DIR",
        default=tempfile.mkdtemp(prefix="mailshot-imports-")
        if TESTING
        else str(VAR_DIR / "imports"),
    )
)

# --- CKEditor 5 ---
CKEDITOR_5_FILE_UPLOAD_PERMISSION = "authenticated"  # narrowed to editors in apps.blog
CKEDITOR_5_CUSTOM_CSS = "css/ckeditor-admin.css"
CKEDITOR_5_MAX_FILE_SIZE = 5  # MB
CKEDITOR_5_UPLOAD_FILE_TYPES = ["jpeg", "jpg", "png", "gif", "webp"]
# The editor's own toolbar, tooltips and word count speak the admin's language: the
# Russian bundle is loaded (the "language" list below) and chosen per request.
CKEDITOR_5_USER_LANGUAGE = True
CKEDITOR_5_CONFIGS = {
    "default": {
        "language": ["ru"],
        "toolbar": {
            "items": [
                "heading",
                "|",
                "bold",
                "italic",
                "link",
                "bulletedList",
                "numberedList",
                "blockQuote",
                "|",
                "imageUpload",
                "insertTable",
                "|",
                "undo",
                "redo",
            ],
        },
        "image": {
            "toolbar": [
                "imageTextAlternative",
                "|",
                "imageStyle:alignLeft",
                "imageStyle:alignRight",
                "imageStyle:alignCenter",
            ]
        },
        "heading": {
            "options": [
                {
                    "model": "paragraph",
                    "title": _("Paragraph"),
                    "class": "ck-heading_paragraph",
                },
                {
                    "model": "heading2",
                    "view": "h2",
                    "title": _("Heading 2"),
                    "class": "ck-heading_heading2",
                },
                {
                    "model": "heading3",
                    "view": "h3",
                    "title": _("Heading 3"),
                    "class": "ck-heading_heading3",
                },
            ]
        },
    },
}

# Messages' editor: what e-mail clients show well, no scripts, no embeds. A link
# may be marked as a button (class "button", styled by the layout); uploads go to
# the messages' own view (apps.content.images) and the sanitiser makes their URLs
# absolute (apps.content.sanitize).
CKEDITOR_5_CONFIGS["email"] = {
    **CKEDITOR_5_CONFIGS["default"],
    "toolbar": {
        "items": [
            "heading",
            "|",
            "bold",
            "italic",
            "link",
            "bulletedList",
            "numberedList",
            "blockQuote",
            "|",
            "imageUpload",
            "insertTable",
            "horizontalLine",
            "|",
            "undo",
            "redo",
        ],
    },
    "link": {
        "decorators": {
            "isButton": {
                "mode": "manual",
                "label": _("Button"),
                "attributes": {"class": "button"},
            }
        }
    },
}

# --- Unfold ---
UNFOLD = {
    "SITE_TITLE": _("Mailshot"),
    "SITE_HEADER": _("Mailshot"),
    "SITE_SYMBOL": "mail",
    # The public site's icon in the admin's tabs too (browsers otherwise ask for a
    # /favicon.ico that does not exist).
    "SITE_FAVICONS": [
        {
            "rel": "icon",
            "type": "image/svg+xml",
            "href": lambda request: static("img/favicon.svg"),
        }
    ],
    # Tells the right person why a login was refused (blocked, unconfirmed).
    "LOGIN": {"form": "apps.users.forms.LoginForm"},
    "SITE_URL": "/",
    "SHOW_HISTORY": True,
    "SHOW_LANGUAGES": True,
    # The user menu: the person's own settings (time zone), then the password.
    "ACCOUNT": {"navigation": "apps.users.account_views.account_links"},
    "DASHBOARD_CALLBACK": "apps.home.dashboard.dashboard_callback",
    "STYLES": [lambda request: static("css/admin-extra.css")],
    "SIDEBAR": {
        "show_search": False,
        "show_all_applications": False,
        "navigation": "apps.core.navigation.sidebar_navigation",
    },
}

# --- Logging ---
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "apps.core.logging.JSONFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            # LOG_FORMAT=json: one JSON object per line for log shippers.
            "formatter": env.str("LOG_FORMAT", default="plain"),
        }
    },
    "filters": {
        # A refused request (403) is an answer, not a fault: one line, no traceback.
        "forbidden_without_traceback": {
            "()": "apps.core.logging.ForbiddenWithoutTraceback"
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own console handler (on while debugging) would print every line
        # a second time beside the root's: Django's records go to the root only.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.request": {"filters": ["forbidden_without_traceback"]},
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # aiosmtpd logs every connection of the local sink at INFO.
        "mail.log": {"level": "WARNING"},
    },
}

# --- Tests ---
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
