"""The wire: one SMTP session per connection, the send-rate throttle, and how a mail
server's replies are classified (sent, failed for good, deferred, unreachable)."""

from __future__ import annotations

import re
import smtplib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

from apps.mailings.conf import engine
from apps.mailings.models import Delivery

Outcome = Delivery.Outcome
REPLY_LIMIT = 500


def short(text: str, limit: int = REPLY_LIMIT) -> str:
    """A reply as people read it: one line, printable, at most `limit` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def decode_reply(code: int, reply: bytes | str) -> str:
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", errors="replace")
    return short(f"{code} {reply}" if code and code > 0 else reply)


class ServerUnavailable(Exception):
    """The mail server could not be reached, timed out or answered garbage."""


class LeaseLost(Exception):
    """Another worker took the run over while this one was waiting on the server."""


class Deferred(Exception):
    """The server answered, but kept deferring this recipient (4xx) for now."""


class _Temporary(Exception):
    def __init__(self, reply: str, *, drop: bool = False) -> None:
        super().__init__(reply)
        self.reply = reply
        self.drop = drop


class _Permanent(Exception):
    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


@dataclass(frozen=True, slots=True)
class Reply:
    """The server's last word on one recipient: sent, or failed for good."""

    outcome: str
    text: str


def envelope_address(address: str) -> str:
    """The address as plain SMTP can carry it: an internationalised domain in
    punycode. Raises UnicodeError for a non-ASCII local part."""
    local, _at, domain = address.strip().rpartition("@")
    local.encode("ascii")
    return f"{local}@{domain.encode('idna').decode('ascii')}"


# An address smtplib's quoteaddr would only wrap in angle brackets: a dot-atom local
# part and a plain domain (what envelope_address returns for ordinary addresses).
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")


def _command(
    conn: smtplib.SMTP, verb: str, prefix: str, address: str
) -> tuple[int, bytes]:
    """MAIL FROM or RCPT TO, as ``conn.mail``/``conn.rcpt`` send it. Their quoteaddr
    runs the e-mail parser on every address (a fifth of a sender thread's CPU); a
    plain address is wrapped directly, anything else goes through smtplib."""
    if _PLAIN_ADDRESS.fullmatch(address):
        conn.putcmd(verb, f"{prefix}<{address}>")
        return conn.getreply()
    return conn.mail(address) if verb == "mail" else conn.rcpt(address)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code > 0:
        return decode_reply(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, TimeoutError | socket.timeout) or (
        # smtplib reports a read timeout as a disconnection.
        isinstance(exc, smtplib.SMTPServerDisconnected) and "timed out" in str(exc)
    ):
        return short(_("The mail server did not answer in time."))
    if isinstance(exc, ConnectionRefusedError):
        return short(_("The mail server refused the connection."))
    if isinstance(exc, smtplib.SMTPConnectError | smtplib.SMTPResponseException):
        return short(_("The mail server gave an unreadable reply."))
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return short(_("The mail server closed the connection."))
    return short(f"{type(exc).__name__}: {exc}")


class SMTPSession:
    """One SMTP connection reused for a whole run, reopened when it drops."""

    def __init__(
        self,
        *,
        retries: int | None = None,
        backoff: float | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        conf = engine()
        self.host = settings.EMAIL_HOST
        self.port = int(settings.EMAIL_PORT)
        self.timeout = conf.email_timeout
        self.username = settings.EMAIL_HOST_USER
        self.password = settings.EMAIL_HOST_PASSWORD
        self.use_tls = settings.EMAIL_USE_TLS
        self.use_ssl = settings.EMAIL_USE_SSL
        self.retries = conf.smtp_retries if retries is None else retries
        self.backoff = conf.smtp_backoff if backoff is None else backoff
        # Set by the engine when the run stops (breaker, lease lost, disabled): a
        # back-off is cut short and no further retry is made.
        self.cancelled = threading.Event()
        self.sleep = sleep or (lambda seconds: self.cancelled.wait(seconds))
        self.conn: smtplib.SMTP | None = None

    def heartbeat(self) -> None:
        """Called before every retry: stop retrying once the run was stopped."""
        if self.cancelled.is_set():
            raise LeaseLost

    def _open(self) -> smtplib.SMTP:
        cls = smtplib.SMTP_SSL if self.use_ssl else smtplib.SMTP
        conn = cls(self.host, self.port, timeout=self.timeout)
        try:
            conn.ehlo_or_helo_if_needed()
            if self.use_tls and not self.use_ssl:
                conn.starttls()
                conn.ehlo()
            if self.username:
                conn.login(self.username, self.password)
        except BaseException:
            conn.close()
            raise
        return conn

    def _drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
        self.conn = None

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (smtplib.SMTPException, OSError):
                pass
        self._drop()

    def _reset(self) -> None:
        try:
            if self.conn is not None:
                self.conn.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    @staticmethod
    def _check(code: int, reply: bytes | str, ok: tuple[int, ...]) -> None:
        if code in ok:
            return
        text = decode_reply(code, reply)
        if 500 <= code < 600:
            raise _Permanent(text)
        if 400 <= code < 500:
            # 421: the server is closing the channel.
            raise _Temporary(text, drop=code == 421)
        raise _Temporary(
            text or _("The mail server gave an unreadable reply."), drop=True
        )

    def _send_once(self, sender: str, recipient: str, data: bytes) -> str:
        if self.conn is None:
            self.conn = self._open()
        reply: bytes | str
        code, reply = _command(self.conn, "mail", "FROM:", sender)
        self._check(code, reply, (250,))
        code, reply = _command(self.conn, "rcpt", "TO:", recipient)
        self._check(code, reply, (250, 251))
        try:
            code, reply = self.conn.data(data)
        except smtplib.SMTPDataError as exc:  # DATA itself refused (not 354)
            code, reply = exc.smtp_code, exc.smtp_error
        self._check(code, reply, (250,))
        return decode_reply(code, reply)

    def send(self, sender: str, recipient: str, data: bytes) -> Reply:
        """The reply for one recipient after bounded retries.

        Raises Deferred when a live server kept answering 4xx for this recipient,
        ServerUnavailable when it could not be reached or talked to.
        """
        last = ""
        deferred = False
        for try_number in range(self.retries + 1):
            if try_number:
                self.sleep(self.backoff * 2 ** (try_number - 1))
                self.heartbeat()
            try:
                return Reply(Outcome.SENT, self._send_once(sender, recipient, data))
            except _Permanent as exc:
                self._reset()
                return Reply(Outcome.FAILED, exc.reply)
            except _Temporary as exc:
                last = exc.reply
                deferred = not exc.drop
                self._drop() if exc.drop else self._reset()
            except (smtplib.SMTPException, OSError) as exc:
                # Connecting, greeting, STARTTLS or login went wrong (even with a
                # 5xx, e.g. bad credentials: that is no reason to fail recipients),
                # or the connection broke.
                last = _describe(exc)
                deferred = False
                self._drop()
        if deferred:
            raise Deferred(last)
        raise ServerUnavailable(last)


class Throttle:
    """At most `rate` messages per second (0 = unlimited), shared by the threads of
    one worker."""

    def __init__(
        self, rate: float, sleep: Callable[[float], object] = time.sleep
    ) -> None:
        self.interval = 1.0 / rate if rate and rate > 0 else 0.0
        self.sleep = sleep
        self.next_at = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            at = max(now, self.next_at)
            self.next_at = at + self.interval
        if at > now:
            self.sleep(at - now)
