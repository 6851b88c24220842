"""Send the report files to a list of addresses over SMTP (STARTTLS or implicit TLS optional)."""

from __future__ import annotations

import asyncio
import mimetypes
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "commune-monitor@localhost"
    username: str = ""
    password: str = ""
    security: str = "none"  # none | starttls | tls
    timeout: float = 30.0


def message(settings: SmtpSettings, to: list[str], subject: str, body: str, files: list[Path]) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = settings.sender, ", ".join(to), subject
    msg.set_content(body)
    for f in files:
        ctype = mimetypes.guess_type(f.name)[0] or "application/octet-stream"
        main, sub = ctype.split("/", 1)
        msg.add_attachment(f.read_bytes(), maintype=main, subtype=sub, filename=f.name)
    return msg


def _send(settings: SmtpSettings, msg: EmailMessage) -> None:
    ctx = ssl.create_default_context()
    s: smtplib.SMTP
    if settings.security == "tls":
        s = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=ctx)
    else:
        s = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with s:
        if settings.security == "starttls":
            s.starttls(context=ctx)
        if settings.username:
            s.login(settings.username, settings.password)
        s.send_message(msg)


async def send(settings: SmtpSettings, to: list[str], subject: str, body: str, files: list[Path]) -> None:
    await asyncio.to_thread(_send, settings, message(settings, to, subject, body, files))
