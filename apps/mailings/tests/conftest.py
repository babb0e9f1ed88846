"""Fixtures of the sending engine: mailings with recipients, fast retry settings, and
a small raw-socket SMTP server that misbehaves on request."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from cachalot.api import invalidate
from django.db import connection, connections
from django.utils import timezone

from apps.core.smtpsink import free_port
from apps.mailings.models import Mailing
from tests.factories import ClientFactory, MailingFactory, MessageFactory


@pytest.fixture(autouse=True)
def _groups_survive_flushes(request):
    """Transactional tests flush the database, and with it the groups the data
    migration made; put them back before the personas need them."""
    marker = request.node.get_closest_marker("django_db")
    if not (marker and marker.kwargs.get("transaction")):
        return
    request.getfixturevalue("transactional_db")
    from apps.users.signals import create_groups

    create_groups()


@pytest.fixture
def fast_retries(settings):
    """Small timeouts and back-offs so resilience tests take a fraction of a second."""
    settings.EMAIL_TIMEOUT = 0.5
    settings.MAILSHOT_SMTP_RETRIES = 3
    settings.MAILSHOT_SMTP_BACKOFF = 0.01
    settings.MAILSHOT_SEND_RATE = 0
    settings.SITE_URL = "https://mailshot.example"
    return settings


@pytest.fixture
def make_mailing(alice):
    """make_mailing(n, owner=alice, **fields) -> a due mailing with n clients."""

    def _make(n: int = 3, owner=None, **fields) -> Mailing:
        owner = owner or alice
        clients = [
            ClientFactory(owner=owner, email=f"r{i}@example.org", full_name=f"R {i}")
            for i in range(n)
        ]
        now = timezone.now()
        fields.setdefault("start_at", now - timedelta(minutes=1))
        fields.setdefault("end_at", now + timedelta(days=1))
        mailing = MailingFactory.create(
            owner=owner,
            message=MessageFactory(
                owner=owner,
                subject="Hi {{ first_name }}",
                body="Dear {{ full_name }} <{{ email }}>.",
            ),
            clients=clients,
            **fields,
        )
        mailing.refresh_from_db()
        return mailing

    return _make


@dataclass
class RawSMTPServer:
    """A tiny SMTP-ish server whose replies each test chooses.

    rcpt_reply(address, n) and data_reply(message_number) return a reply line (without
    CRLF); `greeting` None stays silent, `drop_every` closes the connection after
    every n-th accepted message, `delay` waits before every reply.
    """

    greeting: str | None = "220 raw.example ESMTP"
    rcpt_reply: Callable[[str], str] = lambda address: "250 OK"
    data_reply: Callable[[int], str] = lambda number: "250 Queued"
    drop_every: int = 0
    delay: float = 0.0
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    accepted: list[tuple[str, bytes]] = field(default_factory=list)
    data_count: int = 0
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopped: threading.Event = field(default_factory=threading.Event)

    def received_by(self) -> Counter:
        with self.lock:
            return Counter(rcpt for rcpt, _ in self.accepted)

    def handle(self, sock: socket.socket) -> None:
        with self.lock:
            self.connections += 1
        reader = sock.makefile("rb")

        def say(line: str) -> None:
            if self.delay:
                time.sleep(self.delay)
            sock.sendall(line.encode() + b"\r\n")

        if self.greeting is None:
            self.stopped.wait(5)  # never greets; the client times out first
            return
        say(self.greeting)
        rcpt = ""
        since_drop = 0
        while True:
            line = reader.readline()
            if not line:
                return
            command = line.decode(errors="replace").strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                say("250 raw.example")
            elif verb == "MAIL":
                say("250 OK")
            elif verb == "RCPT":
                rcpt = command.split(":", 1)[1].strip().strip("<>")
                say(self.rcpt_reply(rcpt))
            elif verb == "DATA":
                say("354 End data with <CR><LF>.<CR><LF>")
                chunks = []
                while True:
                    chunk = reader.readline()
                    if not chunk or chunk == b".\r\n":
                        break
                    chunks.append(chunk)
                with self.lock:
                    self.data_count += 1
                    number = self.data_count
                reply = self.data_reply(number)
                if reply.startswith("250"):
                    with self.lock:
                        self.accepted.append((rcpt, b"".join(chunks)))
                say(reply)
                if reply.startswith("250") and self.drop_every:
                    since_drop += 1
                    if since_drop >= self.drop_every:
                        return
            elif verb == "RSET" or verb == "NOOP":
                say("250 OK")
            elif verb == "QUIT":
                say("221 Bye")
                return
            else:
                say("502 Unknown command")

    def __enter__(self) -> RawSMTPServer:
        server_self = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                try:
                    server_self.handle(self.request)
                except OSError:
                    pass

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def raw_smtp(fast_retries):
    """raw_smtp(**behaviour) -> a running RawSMTPServer with Django pointed at it."""
    servers: list[RawSMTPServer] = []

    def _start(**behaviour) -> RawSMTPServer:
        server = RawSMTPServer(**behaviour).__enter__()
        servers.append(server)
        fast_retries.EMAIL_HOST = server.host
        fast_retries.EMAIL_PORT = server.port
        fast_retries.EMAIL_USE_TLS = False
        fast_retries.EMAIL_USE_SSL = False
        fast_retries.EMAIL_HOST_USER = ""
        return server

    yield _start
    for server in servers:
        server.__exit__(None, None, None)


@pytest.fixture
def sink(smtp_sink, fast_retries):
    """The well-behaved aiosmtpd sink, with fast retry settings."""
    return smtp_sink


@pytest.fixture
def shared_db(request, tmp_path):
    """A database that threads (each with its own connection) and other processes
    share, as the workers of a cluster do: PostgreSQL's test database as it is, or on
    SQLite a copy of the in-memory test database in a file (WAL, IMMEDIATE
    transactions, the busy timeout: the settings of the embedded profile).

    Yields the SQLite file (None on PostgreSQL); a process that sets
    ``MAILSHOT_VAR_DIR`` to its folder opens the same file."""
    request.getfixturevalue("transactional_db")
    assert not connection.in_atomic_block, "mark the test django_db(transaction=True)"
    if connection.vendor != "sqlite":
        yield None
        return
    path = tmp_path / "mailshot.sqlite3"
    with connection.cursor() as cursor:
        cursor.execute("VACUUM INTO %s", [str(path)])
    in_memory = connections["default"]
    in_memory_settings = connections.settings["default"]
    shared = {
        **in_memory_settings,
        "NAME": str(path),
        "OPTIONS": {**in_memory_settings["OPTIONS"]},
    }
    connections.settings["default"] = shared
    connections["default"] = in_memory.__class__(shared, "default")
    invalidate()  # nothing cached from the in-memory database answers for the file
    try:
        yield path
    finally:
        connections["default"].close()
        connections["default"] = in_memory
        connections.settings["default"] = in_memory_settings
        invalidate()
