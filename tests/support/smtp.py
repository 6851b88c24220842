"""A real SMTP server (aiosmtpd) that keeps every message it receives, decoded, for assertions."""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from devstack import services as stack


@dataclass
class Mail:
    to: list[str]
    subject: str
    body: str
    message: EmailMessage


@dataclass
class SmtpSink:
    port: int = 0
    mails: list[Mail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        part = msg.get_body(preferencelist=("plain", "html"))
        body = part.get_content() if part is not None else ""
        with self.lock:
            self.mails.append(Mail(list(envelope.rcpt_tos), str(msg["Subject"]), body, msg))
        return "250 OK"

    def to(self, address: str) -> list[Mail]:
        with self.lock:
            return [m for m in self.mails if address in m.to]

    def all(self) -> list[Mail]:
        with self.lock:
            return list(self.mails)


@contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink(port=stack.free_port())
    ctl = Controller(sink, hostname="127.0.0.1", port=sink.port, auth_require_tls=False)
    ctl.start()
    try:
        yield sink
    finally:
        ctl.stop()
