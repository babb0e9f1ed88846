"""SQLite's one writer at a time, made safe for the engine's writes.

The embedded profile runs the web server, the cluster's workers and commands against
one SQLite file. Every transaction starts with ``BEGIN IMMEDIATE`` and a connection
waits up to its busy timeout for the write lock, which serialises writers. A writer
can still be refused at once with "database is locked": when the lock is held longer
than the timeout (a long import batch, a slow disk), or when SQLite declines to wait
(a transaction that read first and tries to write after another connection
committed). A run's start, its claims and its outcome writes are each one short
transaction that is safe to repeat, so ``retry_when_locked`` repeats them after a
jittered back-off rather than failing the task and leaving the run to the next tick.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable

from django.db import OperationalError, connection

log = logging.getLogger(__name__)

# Give up (and let the error through) after this long: the next tick tries again.
RETRY_FOR_SECONDS = 60.0
# The first wait is up to this long; each further one doubles, capped at MAX_WAIT.
FIRST_WAIT = 0.05
MAX_WAIT = 2.0


def is_locked(exc: OperationalError) -> bool:
    return connection.vendor == "sqlite" and "database is locked" in str(exc)


def retry_when_locked[**P, R](func: Callable[P, R]) -> Callable[P, R]:
    """Run `func` again when SQLite refuses its write as locked.

    Only a call that owns its transaction is repeated: inside an outer atomic block
    the error goes up to whoever owns that transaction.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        deadline = time.monotonic() + RETRY_FOR_SECONDS
        tries = 0
        while True:
            try:
                return func(*args, **kwargs)
            except OperationalError as exc:
                if (
                    not is_locked(exc)
                    or connection.in_atomic_block
                    or time.monotonic() > deadline
                ):
                    raise
                tries += 1
                wait = random.uniform(0, min(MAX_WAIT, FIRST_WAIT * 2**tries))  # noqa: S311
                log.info(
                    "%s: database locked, retry %d in %.2f s",
                    func.__name__,
                    tries,
                    wait,
                )
                time.sleep(wait)

    return wrapper
