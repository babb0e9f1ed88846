"""A local SMTP server (aiosmtpd) that keeps every message it receives.

Used by ``make run`` (messages saved as ``.eml`` under ``var/mail/``) and by the tests,
which read ``sink.messages``. aiosmtpd's ``Controller(port=0)`` cannot start (its
readiness check connects to the port it was given, 0), so a free port is picked here
first.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

from aiosmtpd.controller import Controller

if TYPE_CHECKING:
    from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    envelope_from: str
    envelope_to: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)


@dataclass
class SinkHandler:
    directory: Path | None = None
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(  # noqa: N802 (aiosmtpd API)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or envelope.content or b""
        item = Received(
            envelope_from=envelope.mail_from or "",
            envelope_to=list(envelope.rcpt_tos),
            # Text only with the Controller's decode_data=True, which is not used here.
            raw=raw.encode() if isinstance(raw, str) else raw,
        )
        with self.lock:
            self.messages.append(item)
            index = len(self.messages)
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"{time.strftime('%Y%m%d-%H%M%S')}-{index:06d}.eml"
            (self.directory / name).write_bytes(item.raw)
        return "250 Message accepted for delivery"


class SMTPSink:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        directory: str | Path | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.handler = SinkHandler(directory=Path(directory) if directory else None)
        self.controller = Controller(self.handler, hostname=host, port=self.port)

    @property
    def messages(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.messages)

    def clear(self) -> None:
        with self.handler.lock:
            self.handler.messages.clear()

    def start(self) -> SMTPSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> SMTPSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
