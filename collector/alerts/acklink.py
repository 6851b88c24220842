"""Signed acknowledge links: ``https://collector/ack?token=...`` silences one alert for a configured time.

The token is ``base64url(json payload) + "." + base64url(HMAC-SHA256(secret, payload))``; the payload holds
the alert's identifying labels and the link's expiry (Unix time). Nothing else is trusted: a link cannot be
changed to silence other alerts, and it stops working when it expires. The handler answers in Vietnamese.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from aiohttp import web

from collector.alerts import silences
from collector.alerts.alertmanager import AlertmanagerClient, AlertmanagerError


class AckLinkError(ValueError):
    """The token is malformed, forged or expired (the message says which)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class AckSigner:
    secret: bytes
    link_ttl: timedelta = timedelta(days=2)
    """How long a link stays valid after it was made."""

    def __post_init__(self) -> None:
        if len(self.secret) < 16:
            raise ValueError("the acknowledge secret must be at least 16 bytes")

    def make_token(self, labels: Mapping[str, str], now: float | None = None) -> str:
        picked = {k: labels[k] for k in sorted(labels) if k in silences.ACK_LABELS}
        if "alertname" not in picked:
            raise ValueError("an acknowledge link needs the alert's alertname label")
        exp = int((now if now is not None else time.time()) + self.link_ttl.total_seconds())
        payload = json.dumps({"l": picked, "exp": exp}, separators=(",", ":"), ensure_ascii=False).encode()
        sig = hmac.new(self.secret, payload, hashlib.sha256).digest()
        return f"{_b64(payload)}.{_b64(sig)}"

    def make_url(self, base_url: str, labels: Mapping[str, str], now: float | None = None) -> str:
        """The link to put in the alert's ``ack_url`` annotation (``base_url`` like https://host/ack)."""
        return f"{base_url}?{urlencode({'token': self.make_token(labels, now)})}"

    def verify(self, token: str, now: float | None = None) -> dict[str, str]:
        """The labels the token acknowledges; AckLinkError if forged, malformed or expired."""
        try:
            p64, s64 = token.split(".")
            payload, sig = _unb64(p64), _unb64(s64)
        except ValueError:
            raise AckLinkError("malformed acknowledge token") from None
        if not hmac.compare_digest(sig, hmac.new(self.secret, payload, hashlib.sha256).digest()):
            raise AckLinkError("acknowledge token signature does not match")
        try:
            data = json.loads(payload)
            labels = {str(k): str(v) for k, v in data["l"].items()}
            exp = float(data["exp"])
        except (ValueError, KeyError, AttributeError, TypeError):
            raise AckLinkError("malformed acknowledge token payload") from None
        if (now if now is not None else time.time()) > exp:
            raise AckLinkError("acknowledge link has expired")
        return labels


def _page(title: str, text: str, status: int) -> web.Response:
    body = (f"<!doctype html><html lang=\"vi\"><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>")
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


def ack_handler(signer: AckSigner, client: AlertmanagerClient, silence_for: timedelta,
                created_by: str = "ack-link") -> Callable[[web.Request], Awaitable[web.Response]]:
    """An aiohttp handler for ``GET /ack?token=...``: mount it with ``app.router.add_get("/ack", handler)``."""

    async def handle(request: web.Request) -> web.Response:
        try:
            labels = signer.verify(request.query.get("token", ""))
        except AckLinkError as exc:
            return _page("Liên kết không hợp lệ",
                         f"Liên kết xác nhận không dùng được ({exc}). Vui lòng dùng liên kết trong thông báo mới nhất.",
                         403 if "expired" not in str(exc) else 410)
        hours = silence_for.total_seconds() / 3600
        try:
            sid = await silences.acknowledge(client, labels, silence_for, created_by=created_by,
                                             comment=f"Xác nhận qua liên kết: {labels.get('alertname', '')}")
        except AlertmanagerError:
            return _page("Chưa xác nhận được", "Hệ thống cảnh báo tạm thời không phản hồi. Vui lòng thử lại sau "
                         "ít phút.", 503)
        where = labels.get("site") or labels.get("commune") or "toàn tỉnh"
        return _page("Đã xác nhận cảnh báo",
                     f"Đã nhận cảnh báo {labels['alertname']} ({where}). Hệ thống tạm dừng nhắc lại trong "
                     f"{hours:g} giờ (mã {sid}).", 200)

    return handle
