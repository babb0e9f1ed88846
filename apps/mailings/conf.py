"""The sending engine's settings, each read here once with its default and checked.

``project/settings.py`` fills them from the environment (``MAILSHOT_*``, the
``EMAIL_*`` variables and ``Q_CLUSTER``); the engine reads them only through
``engine()``. Values that cannot work are refused at start-up by the system checks
below (``manage.py check``, ``migrate``, ``qcluster`` and ``runserver`` run them),
with a message naming the variable, instead of being clamped silently.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.core.signals import setting_changed
from django.dispatch import receiver

# Used when a settings module leaves a variable out; project/settings.py gives the
# same defaults to the environment variables of the same names.
DEFAULTS: dict[str, Any] = {
    "MAILSHOT_SEND_RATE": 0.0,
    "MAILSHOT_LEASE_SECONDS": 60,
    "MAILSHOT_SMTP_RETRIES": 3,
    "MAILSHOT_SMTP_BACKOFF": 1.0,
    "MAILSHOT_BATCH_SIZE": 100,
    "MAILSHOT_SMTP_CONNECTIONS": 4,
    "MAILSHOT_RUN_HELPERS": -1,
    "MAILSHOT_NODE_NAME": "",
    "MAILSHOT_MAX_TRIES_PER_RECIPIENT": 5,
    "MAILSHOT_SENDER_DOMAINS": [],
}
# A lease is renewed every third of its length; below this the renewals would crowd
# the database, and a dead worker's run is resumed by the minute tick anyway, so
# more than a minute only delays that.
LEASE_RANGE = (5, 60)
# Worker ids are "<node>:<pid>:<8 hex>" in 100-character columns.
NODE_NAME_LIMIT = 60
NOT_A_NUMBER = "mailings.E001"


@dataclass(frozen=True, slots=True)
class Engine:
    send_rate: float  # messages per second per cluster; 0 = unlimited
    lease_seconds: int
    smtp_retries: int
    smtp_backoff: float
    batch_size: int
    smtp_connections: int
    run_helpers: int  # -1: one per other running worker
    node_name: str
    max_tries_per_recipient: int
    email_timeout: float  # 0 when unset (refused by the checks)
    task_timeout: float | None  # django-q2's Q_CLUSTER["timeout"]
    task_retry: float | None  # Q_CLUSTER["retry"]
    workers: int  # Q_CLUSTER["workers"]
    sync: bool  # Q_CLUSTER["sync"]: tasks run inline (tests)


def _setting(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])


@functools.cache
def engine() -> Engine:
    """The engine's settings, read once (and again after a test overrides one)."""
    q = settings.Q_CLUSTER
    return Engine(
        send_rate=float(_setting("MAILSHOT_SEND_RATE") or 0),
        lease_seconds=int(_setting("MAILSHOT_LEASE_SECONDS")),
        smtp_retries=int(_setting("MAILSHOT_SMTP_RETRIES")),
        smtp_backoff=float(_setting("MAILSHOT_SMTP_BACKOFF")),
        batch_size=int(_setting("MAILSHOT_BATCH_SIZE")),
        smtp_connections=int(_setting("MAILSHOT_SMTP_CONNECTIONS")),
        run_helpers=int(_setting("MAILSHOT_RUN_HELPERS")),
        node_name=str(_setting("MAILSHOT_NODE_NAME") or ""),
        max_tries_per_recipient=int(_setting("MAILSHOT_MAX_TRIES_PER_RECIPIENT")),
        email_timeout=float(settings.EMAIL_TIMEOUT or 0),
        task_timeout=q.get("timeout"),
        task_retry=q.get("retry"),
        workers=int(q.get("workers") or 1),
        sync=bool(q.get("sync")),
    )


# One DNS label of a host name (after IDNA encoding).
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def _domain(value: str) -> str:
    """A domain as the sender rules compare it: lower case, IDNA (punycode), no
    trailing dot. Raises ValueError for anything that is not a host name."""
    name = value.strip().rstrip(".").lower()
    try:
        ascii_name = name.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(value) from exc
    labels = ascii_name.split(".")
    if len(labels) < 2 or len(ascii_name) > 253:
        raise ValueError(value)
    if not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError(value)
    return ascii_name


def _sender_domain_values() -> list[str]:
    raw = _setting("MAILSHOT_SENDER_DOMAINS") or ()
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    return [str(item).strip() for item in items if str(item).strip()]


@functools.cache
def sender_domains() -> frozenset[str]:
    """The domains the operator signs mail for (MAILSHOT_SENDER_DOMAINS): a verified
    address on one of them may be a mailing's From. Malformed entries are left out
    here and refused by the system check (mailings.E030)."""
    domains: set[str] = set()
    for item in _sender_domain_values():
        try:
            domains.add(_domain(item))
        except ValueError:
            continue
    return frozenset(domains)


@receiver(setting_changed, dispatch_uid="mailings.conf.reload")
def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting in DEFAULTS or setting in ("Q_CLUSTER", "EMAIL_TIMEOUT"):
        engine.cache_clear()
        sender_domains.cache_clear()


def check_engine_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """System checks: refuse engine settings that cannot work."""
    try:
        conf = engine()
    except (TypeError, ValueError) as exc:
        return [
            Error(f"A MAILSHOT_* setting is not a number: {exc}", id="mailings.E001")
        ]
    return [*_check_ranges(conf), *_check_timing(conf), *_check_sender_domains()]


def _check_sender_domains() -> list[CheckMessage]:
    bad = []
    for item in _sender_domain_values():
        try:
            _domain(item)
        except ValueError:
            bad.append(item)
    if not bad:
        return []
    return [
        Error(
            "MAILSHOT_SENDER_DOMAINS holds something that is not a domain: "
            + ", ".join(repr(item) for item in bad),
            hint="A comma-separated list of the domains whose mail this site signs "
            "(DKIM), such as 'example.com,news.example.com'; no addresses or URLs.",
            id="mailings.E030",
        )
    ]


def _check_ranges(conf: Engine) -> list[CheckMessage]:
    low, high = LEASE_RANGE
    rules: list[tuple[str, bool, str, str]] = [
        (
            "E002",
            conf.send_rate < 0,
            "MAILSHOT_SEND_RATE is negative.",
            "Use 0 for no limit, or the messages per second one cluster may send.",
        ),
        (
            "E003",
            not low <= conf.lease_seconds <= high,
            f"MAILSHOT_LEASE_SECONDS is {conf.lease_seconds}, outside {low}-{high}.",
            "A run's lease is renewed every third of it; a dead worker's run waits "
            "that long to be resumed.",
        ),
        (
            "E004",
            conf.smtp_retries < 0,
            "MAILSHOT_SMTP_RETRIES is negative.",
            "Use 0 to try each recipient once per run.",
        ),
        ("E005", conf.smtp_backoff < 0, "MAILSHOT_SMTP_BACKOFF is negative.", ""),
        (
            "E006",
            conf.batch_size < 1,
            "MAILSHOT_BATCH_SIZE is below 1.",
            "It is how many recipients a worker claims at once (100 by default).",
        ),
        (
            "E007",
            conf.smtp_connections < 1,
            "MAILSHOT_SMTP_CONNECTIONS is below 1.",
            "",
        ),
        (
            "E008",
            conf.run_helpers < -1,
            "MAILSHOT_RUN_HELPERS is below -1.",
            "Use -1 for one helper per other running worker, 0 for none.",
        ),
        (
            "E009",
            len(conf.node_name) > NODE_NAME_LIMIT,
            f"MAILSHOT_NODE_NAME is longer than {NODE_NAME_LIMIT} characters.",
            "It prefixes worker ids stored in 100-character columns.",
        ),
        (
            "E010",
            conf.max_tries_per_recipient < 1,
            "MAILSHOT_MAX_TRIES_PER_RECIPIENT is below 1.",
            "",
        ),
        (
            "E011",
            conf.email_timeout <= 0,
            "EMAIL_TIMEOUT is not a positive number of seconds.",
            "Without a timeout a silent mail server hangs a worker for ever.",
        ),
    ]
    return [
        Error(message, hint=hint or None, id=f"mailings.{check_id}")
        for check_id, broken, message, hint in rules
        if broken
    ]


def _check_timing(conf: Engine) -> list[CheckMessage]:
    timeout, retry = conf.task_timeout, conf.task_retry
    if not timeout or timeout <= 0:
        return [
            Error(
                "Q_CLUSTER has no timeout (MAILSHOT_Q_TIMEOUT).",
                hint="Without one a stuck task is handed out again after `retry` "
                "seconds while it still runs.",
                id="mailings.E020",
            )
        ]
    messages: list[CheckMessage] = []
    if retry is None or retry <= timeout:
        messages.append(
            Error(
                f"Q_CLUSTER retry ({retry}) is not greater than its timeout "
                f"({timeout}) (MAILSHOT_Q_RETRY, MAILSHOT_Q_TIMEOUT).",
                hint="django-q2 hands a task out again after `retry` seconds: a run "
                "still going then would be served twice.",
                id="mailings.E021",
            )
        )
    if conf.lease_seconds >= timeout:
        messages.append(
            Error(
                f"MAILSHOT_LEASE_SECONDS ({conf.lease_seconds}) is not shorter than "
                f"the task timeout ({timeout}, MAILSHOT_Q_TIMEOUT).",
                hint="A run stops before the task timeout kills it; its lease must "
                "run out well before that.",
                id="mailings.E022",
            )
        )
    if settings.Q_CLUSTER.get("catch_up", True):
        messages.append(
            Warning(
                "Q_CLUSTER catch_up is on: after downtime every missed minute tick "
                "is replayed.",
                id="mailings.W001",
            )
        )
    return messages
