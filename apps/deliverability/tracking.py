"""Open and click tracking: signed tokens, the links of a message, and a buffer that
keeps database writes out of the request.

Tokens name the run (attempt), the delivery and, for a click, the link's index in
the message, with an HMAC under the site's secret key: a tampered, foreign or
made-up token is a 404. A click redirects only to a link that was in the message as
that run sent it (``Attempt.links``), never to an address taken from the request.
The unsubscribe link (and ``List-Unsubscribe``), ``mailto:``/``tel:`` links, page
anchors and links holding a placeholder are never rewritten.

The endpoints answer from memory: the hit goes into a buffer — a Redis list when
``REDIS_URL`` is set (flushed by the cluster every minute and by
``manage.py flush_tracking``), otherwise a bounded in-process queue flushed by a
background thread every second — and is written in batches by
``engagement.record``. No IP address is kept, and the User-Agent only long enough
to tell machines from people.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import hmac
import json
import logging
import re
import threading
from collections import deque
from dataclasses import replace
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.utils import timezone

from apps.deliverability.engagement import Hit, record
from apps.mailings.locking import retry_when_locked

if TYPE_CHECKING:
    from apps.mailings.compose import Content
    from apps.mailings.models import Mailing

logger = logging.getLogger(__name__)

SALT = b"mailshot.deliverability.tracking"
_OPEN = re.compile(r"([0-9a-f]{1,12})\.([0-9a-f]{1,12})\.([0-9a-f]{16})")
_CLICK = re.compile(
    r"([0-9a-f]{1,12})\.([0-9a-f]{1,12})\.([0-9a-f]{1,4})\.([0-9a-f]{16})"
)
# In a composed message, before each recipient's tokens are filled in.
OPEN_MARK = "MAILSHOTOPEN5C1D"
CLICK_MARK = "MAILSHOTCLICK5C1D"
_MARKS = re.compile(OPEN_MARK + "|" + CLICK_MARK + r"([0-9]{1,4})X")
_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.I | re.S)
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
MAX_LINKS = 1000


def enabled(value: bool | None) -> bool:
    """A mailing's own choice, else the site's default (MAILSHOT_TRACKING)."""
    if value is not None:
        return value
    return bool(getattr(settings, "MAILSHOT_TRACKING", True))


@lru_cache(maxsize=4)
def _key(secret: str) -> bytes:
    return hashlib.sha256(SALT + secret.encode()).digest()


def _mac(*numbers: int) -> str:
    key = _key(settings.SECRET_KEY)
    message = ".".join(str(n) for n in numbers).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:16]


def open_token(attempt_id: int, delivery_id: int) -> str:
    return f"{attempt_id:x}.{delivery_id:x}.{_mac(attempt_id, delivery_id)}"


def click_token(attempt_id: int, delivery_id: int, index: int) -> str:
    mac = _mac(attempt_id, delivery_id, index)
    return f"{attempt_id:x}.{delivery_id:x}.{index:x}.{mac}"


def read_open_token(token: str) -> tuple[int, int] | None:
    match = _OPEN.fullmatch(token)
    if not match:
        return None
    attempt_id, delivery_id = int(match.group(1), 16), int(match.group(2), 16)
    if not hmac.compare_digest(match.group(3), _mac(attempt_id, delivery_id)):
        return None
    return attempt_id, delivery_id


def read_click_token(token: str) -> tuple[int, int, int] | None:
    match = _CLICK.fullmatch(token)
    if not match:
        return None
    attempt_id, delivery_id, index = (int(match.group(i), 16) for i in (1, 2, 3))
    if not hmac.compare_digest(match.group(4), _mac(attempt_id, delivery_id, index)):
        return None
    return attempt_id, delivery_id, index


def _trackable(url: str) -> bool:
    lowered = url.strip().lower()
    return (
        lowered.startswith(("http://", "https://"))
        and "{{" not in url
        and "{%" not in url
        and "/unsubscribe/" not in lowered
    )


def prepare(html: str, *, opens: bool, clicks: bool) -> tuple[str, list[str]]:
    """`html` with each trackable link pointing at the click endpoint and the pixel
    added, as marks that ``personalise`` turns into one recipient's tokens; and the
    links in document order (stored with the run)."""
    site = settings.SITE_URL.rstrip("/")
    links: list[str] = []

    def rewrite(match: re.Match[str]) -> str:
        url = match.group(3)
        if not _trackable(url) or len(links) >= MAX_LINKS:
            return match.group(0)
        index = len(links)
        links.append(url.strip())
        quote = match.group(2)
        return f"{match.group(1)}{quote}{site}/t/c/{CLICK_MARK}{index}X/{quote}"

    if clicks:
        html = _HREF.sub(rewrite, html)
    if opens:
        pixel = (
            f'<img src="{site}/t/o/{OPEN_MARK}.gif" width="1" height="1" alt="" '
            'style="display:block;border:0;width:1px;height:1px">'
        )
        at = html.lower().rfind("</body>")
        html = html[:at] + pixel + html[at:] if at >= 0 else html + pixel
    return html, links


def personalise(text: str, attempt_id: int, delivery_id: int) -> str:
    """Fill one recipient's tokens into a prepared message."""
    if OPEN_MARK not in text and CLICK_MARK not in text:
        return text

    def token(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return open_token(attempt_id, delivery_id)
        return click_token(attempt_id, delivery_id, int(match.group(1)))

    return _MARKS.sub(token, text)


@lru_cache(maxsize=4096)
def _links_of(attempt_id: int) -> tuple[str, ...] | None:
    from apps.mailings.models import Attempt

    links = (
        Attempt.objects.filter(pk=attempt_id).values_list("links", flat=True).first()
    )
    return tuple(links) if isinstance(links, list) else None


def link_of(attempt_id: int, index: int) -> str | None:
    links = _links_of(attempt_id)
    if links is None:
        _links_of.cache_clear() if _links_of.cache_info().currsize > 4000 else None
        return None
    return links[index] if 0 <= index < len(links) else None


def prepare_run(
    content: Content, mailing: Mailing, *, attempt_id: int
) -> tuple[Content, bool]:
    """A run's composed content with its tracking marks (when the mailing tracks and
    the message has HTML), and whether anything is tracked. The run's links are
    stored on its attempt by the first worker; a worker that composes a message
    edited since then tracks opens only, so no click is sent to a wrong link."""
    opens, clicks = enabled(mailing.track_opens), enabled(mailing.track_clicks)
    if not content.html or not (opens or clicks):
        return content, False
    html, links = prepare(content.html, opens=opens, clicks=clicks)
    if clicks:
        from apps.mailings.models import Attempt

        Attempt.objects.filter(pk=attempt_id, links__isnull=True).update(links=links)
        stored = (
            Attempt.objects.filter(pk=attempt_id)
            .values_list("links", flat=True)
            .first()
        )
        if stored != links:
            html, _links = prepare(content.html, opens=opens, clicks=False)
    return replace(content, html=html), True


# --- the buffer ---------------------------------------------------------------


class Buffer(Protocol):
    def push(self, hit: Hit) -> None: ...
    def drain(self, limit: int) -> list[Hit]: ...
    def put_back(self, hits: list[Hit]) -> None: ...


def _encode(hit: Hit) -> str:
    return json.dumps(
        [
            hit.delivery_id,
            hit.kind,
            hit.at.isoformat(),
            hit.user_agent[:300],
            hit.link_index,
            hit.url[:2000],
        ]
    )


def _decode(raw: bytes | str) -> Hit:
    delivery_id, kind, at, agent, index, url = json.loads(raw)
    return Hit(delivery_id, kind, datetime.fromisoformat(at), agent, index, url)


class RedisBuffer:
    KEY = "mailshot:tracking:hits"

    def __init__(self, url: str) -> None:
        import redis

        self.redis = redis.Redis.from_url(url)

    def push(self, hit: Hit) -> None:
        self.redis.rpush(self.KEY, _encode(hit))

    def drain(self, limit: int) -> list[Hit]:
        pipe = self.redis.pipeline(transaction=True)
        pipe.lrange(self.KEY, 0, limit - 1)
        pipe.ltrim(self.KEY, limit, -1)
        raw, _ = pipe.execute()
        return [_decode(item) for item in raw]

    def put_back(self, hits: list[Hit]) -> None:
        if hits:
            self.redis.lpush(self.KEY, *[_encode(hit) for hit in reversed(hits)])

    def __len__(self) -> int:
        return int(self.redis.llen(self.KEY))


class MemoryBuffer:
    """A bounded queue in this process, flushed by a daemon thread every second;
    when it is full a request flushes it before adding (hits are never dropped)."""

    LIMIT = 50_000
    INTERVAL = 1.0

    def __init__(self) -> None:
        self.hits: deque[Hit] = deque()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def push(self, hit: Hit) -> None:
        with self.lock:
            self.hits.append(hit)
            full = len(self.hits) >= self.LIMIT
        if full:
            flush()
        elif not getattr(settings, "TESTING", False):
            self._start()

    def drain(self, limit: int) -> list[Hit]:
        with self.lock:
            return [self.hits.popleft() for _ in range(min(limit, len(self.hits)))]

    def put_back(self, hits: list[Hit]) -> None:
        with self.lock:
            self.hits.extendleft(reversed(hits))

    def __len__(self) -> int:
        return len(self.hits)

    def _start(self) -> None:
        if self.thread is not None and self.thread.is_alive():
            return
        with self.lock:
            if self.thread is not None and self.thread.is_alive():
                return
            self.thread = threading.Thread(
                target=self._loop, daemon=True, name="mailshot-tracking"
            )
            self.thread.start()
            # A worker that exits (gunicorn's graceful restart) writes what it holds.
            atexit.register(_flush_quietly)

    def _loop(self) -> None:
        import time

        from django.db import close_old_connections

        while True:
            time.sleep(self.INTERVAL)
            try:
                flush()
            except Exception:  # noqa: BLE001 - keep flushing; the hits went back
                logger.exception("tracking: flush failed")
            finally:
                close_old_connections()


def _flush_quietly() -> None:
    try:
        flush()
    except Exception:  # noqa: BLE001 - at exit: log, nothing else to do
        logger.exception("tracking: the last flush failed")


_buffer: Buffer | None = None
_buffer_lock = threading.Lock()


def buffer() -> Buffer:
    global _buffer
    if _buffer is None:
        with _buffer_lock:
            if _buffer is None:
                url = getattr(settings, "REDIS_URL", "")
                _buffer = RedisBuffer(url) if url else MemoryBuffer()
    return _buffer


def reset_buffer() -> None:
    """Forget the buffer (tests switch REDIS_URL)."""
    global _buffer
    _buffer = None
    _links_of.cache_clear()


def hit(
    kind: str,
    *,
    attempt_id: int,
    delivery_id: int,
    user_agent: str,
    index: int | None = None,
    url: str = "",
    at: datetime | None = None,
) -> None:
    buffer().push(
        Hit(
            delivery_id=delivery_id,
            kind=kind,
            at=at or timezone.now(),
            user_agent=user_agent,
            link_index=index,
            url=url,
        )
    )


_flushing = threading.Lock()


def flush(*, batch: int = 5000) -> int:
    """Write everything buffered now; returns the number of hits written.

    One flush at a time per process: a worker's last flush at exit waits for the
    background thread's batch to be committed instead of racing it."""
    written = 0
    source = buffer()
    with _flushing:
        while True:
            hits = source.drain(batch)
            if not hits:
                return written
            try:
                _record(hits)
            except Exception:
                source.put_back(hits)
                raise
            written += len(hits)


@retry_when_locked
def _record(hits: list[Hit]) -> int:
    return record(hits)
