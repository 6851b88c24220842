"""Zalo adapter: receives Alertmanager webhooks and sends each recipient a Zalo Official Account message.

Alertmanager has no Zalo integration, so its ``webhook_configs`` point here, with the recipients' Zalo user
ids in the URL (``/alertmanager?to=123,456``; the generator writes them). For every recipient the adapter
calls ``POST {api_base}/v3.0/oa/message/cs`` (header ``access_token``, body ``{"recipient": {"user_id": ...},
"message": {"text": ...}}``). The OA access token is refreshed at ``POST {oauth_base}/v4/oa/access_token``
(form app_id, refresh_token, grant_type=refresh_token; header secret_key) before it expires (``expires_in``)
and whenever Zalo answers -216 (invalid/expired token). Zalo returns a NEW refresh token each time, and the
old one stops working: both are persisted atomically to the token file before being used.

Network errors and HTTP 5xx are retried with exponential backoff; if a recipient still fails, the webhook
answers 502 so Alertmanager retries the notification.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from common import vnformat

log = logging.getLogger(__name__)

TOKEN_INVALID = -216


class ZaloError(Exception):
    def __init__(self, message: str, code: int = 0, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


@dataclass
class Tokens:
    access_token: str
    refresh_token: str
    expires_at: float = 0.0
    """Unix time; 0 means unknown (the token is used until Zalo rejects it)."""


@dataclass
class TokenStore:
    """The OA tokens in a JSON file (mode 0600), replaced atomically on every refresh."""

    path: Path

    def load(self) -> Tokens:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return Tokens(str(data["access_token"]), str(data["refresh_token"]), float(data.get("expires_at", 0)))
        except (OSError, ValueError, KeyError) as exc:
            raise ZaloError(f"{self.path}: cannot read Zalo tokens: {exc}") from None

    def save(self, tokens: Tokens) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"access_token": tokens.access_token, "refresh_token": tokens.refresh_token,
                       "expires_at": tokens.expires_at}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self.path)


@dataclass
class ZaloSettings:
    app_id: str
    secret_key: str
    token_file: Path
    api_base: str = "https://openapi.zalo.me"
    oauth_base: str = "https://oauth.zaloapp.com"
    timeout: float = 10.0
    retries: int = 3
    backoff: float = 0.5
    refresh_margin: float = 300.0
    """Refresh this many seconds before the access token expires."""


@dataclass
class ZaloClient:
    settings: ZaloSettings
    session: aiohttp.ClientSession
    store: TokenStore = field(init=False)
    tokens: Tokens = field(init=False)
    refreshes: int = 0
    sent: int = 0
    failed: int = 0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.store = TokenStore(self.settings.token_file)
        self.tokens = self.store.load()

    async def refresh(self, rejected: str | None = None) -> None:
        """Get a new access token; ``rejected`` is the token Zalo refused (skip if another task refreshed)."""
        async with self._lock:
            if rejected is not None and self.tokens.access_token != rejected:
                return
            s = self.settings
            form = {"app_id": s.app_id, "refresh_token": self.tokens.refresh_token, "grant_type": "refresh_token"}
            data = await self._call("POST", f"{s.oauth_base.rstrip('/')}/v4/oa/access_token", data=form,
                                    headers={"secret_key": s.secret_key})
            if not data.get("access_token") or not data.get("refresh_token"):
                raise ZaloError(f"token refresh refused: {data.get('error_description') or data}",
                                int(data.get("error") or 0))
            expires_in = float(data.get("expires_in") or 0)
            new = Tokens(str(data["access_token"]), str(data["refresh_token"]),
                         time.time() + expires_in if expires_in else 0.0)
            self.store.save(new)  # before use: the old refresh token is now spent
            self.tokens = new
            self.refreshes += 1
            log.info("zalo: access token refreshed (expires in %.0f s)", expires_in)

    async def _call(self, method: str, url: str, **kw: Any) -> dict[str, Any]:
        s = self.settings
        delay = s.backoff
        for attempt in range(s.retries + 1):
            try:
                async with self.session.request(method, url, timeout=aiohttp.ClientTimeout(total=s.timeout),
                                                **kw) as resp:
                    if resp.status >= 500:
                        raise ZaloError(f"{url}: HTTP {resp.status}", retryable=True)
                    body = await resp.json(content_type=None)
                    if not isinstance(body, dict):
                        raise ZaloError(f"{url}: unexpected answer {body!r}")
                    return body
            except (aiohttp.ClientError, TimeoutError, ZaloError) as exc:
                retryable = not isinstance(exc, ZaloError) or exc.retryable
                if not retryable or attempt == s.retries:
                    if isinstance(exc, ZaloError):
                        raise
                    raise ZaloError(f"{url}: {type(exc).__name__}: {exc}", retryable=True) from None
                log.warning("zalo: %s failed (%s), retry in %.1f s", url, exc, delay)
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    async def send_text(self, user_id: str, text: str) -> dict[str, Any]:
        if self.tokens.expires_at and time.time() > self.tokens.expires_at - self.settings.refresh_margin:
            await self.refresh(self.tokens.access_token)
        url = f"{self.settings.api_base.rstrip('/')}/v3.0/oa/message/cs"
        body = {"recipient": {"user_id": user_id}, "message": {"text": text}}
        for _ in range(2):
            token = self.tokens.access_token
            data = await self._call("POST", url, json=body, headers={"access_token": token})
            code = int(data.get("error") or 0)
            if code == TOKEN_INVALID:
                await self.refresh(token)
                continue
            if code != 0:
                raise ZaloError(f"Zalo refused the message to {user_id}: {code} {data.get('message', '')}", code)
            self.sent += 1
            return data
        raise ZaloError(f"Zalo still rejects the access token after a refresh (user {user_id})", TOKEN_INVALID)


def _vn(ts: str) -> str:
    try:
        t = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return ts
    if t.year < 2000:
        return ""
    return vnformat.date_time(t if t.tzinfo else t.replace(tzinfo=UTC))


def format_message(payload: Mapping[str, Any]) -> str:
    """The Vietnamese text of one Alertmanager notification (same content as the e-mail, shorter)."""
    firing = payload.get("status") == "firing"
    common = payload.get("commonLabels") or {}
    where = common.get("commune_name") or "Toàn tỉnh"
    if common.get("site"):
        where += f" – điểm {common['site']}"
    lines = [f"[{'CẢNH BÁO' if firing else 'ĐÃ KHẮC PHỤC'}] {where}"]
    for a in payload.get("alerts") or []:
        labels, ann = a.get("labels") or {}, a.get("annotations") or {}
        state = "đang xảy ra" if a.get("status") == "firing" else "đã khắc phục"
        lines.append(f"- {ann.get('summary') or labels.get('alertname', '')} ({state})")
        if labels.get("commune_name"):
            lines.append(f"  Xã/phường: {labels['commune_name']}")
        if labels.get("site"):
            lines.append(f"  Điểm: {labels['site']}")
        if a.get("startsAt"):
            lines.append(f"  Bắt đầu: {_vn(a['startsAt'])}")
        if a.get("status") == "resolved" and _vn(a.get("endsAt", "")):
            lines.append(f"  Kết thúc: {_vn(a['endsAt'])}")
        if ann.get("description"):
            lines.append(f"  Chi tiết: {ann['description']}")
        if a.get("status") == "firing" and ann.get("ack_url"):
            lines.append(f"  Xác nhận: {ann['ack_url']}")
    return "\n".join(lines)


CLIENT_KEY = web.AppKey("zalo_client", ZaloClient)


async def handle_webhook(request: web.Request) -> web.Response:
    client = request.app[CLIENT_KEY]
    recipients = [r for r in request.query.get("to", "").split(",") if r]
    if not recipients or not all(r.isdigit() for r in recipients):
        return web.json_response({"error": "to= must list Zalo user ids"}, status=400)
    try:
        payload = await request.json()
    except ValueError:
        return web.json_response({"error": "body is not JSON"}, status=400)
    text = format_message(payload)
    results = await asyncio.gather(*(client.send_text(r, text) for r in recipients), return_exceptions=True)
    failed = {r: str(e) for r, e in zip(recipients, results, strict=True) if isinstance(e, BaseException)}
    client.failed += len(failed)
    for r, e in failed.items():
        log.error("zalo: sending to %s failed: %s", r, e)
    if failed:
        return web.json_response({"failed": failed}, status=502)
    return web.json_response({"sent": len(recipients)})


def make_app(client: ZaloClient) -> web.Application:
    app = web.Application()
    app[CLIENT_KEY] = client
    app.router.add_post("/alertmanager", handle_webhook)
    app.router.add_get("/-/ready", _ready)
    return app


async def _ready(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def serve(settings: ZaloSettings, host: str = "127.0.0.1", port: int = 9095) -> None:
    """Run the adapter until cancelled."""
    async with aiohttp.ClientSession() as session:
        runner = web.AppRunner(make_app(ZaloClient(settings, session)))
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
            log.info("zalo adapter listening on %s:%d", host, port)
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()
