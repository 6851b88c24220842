"""A local stand-in for Zalo's OA message API and OAuth token endpoint, answering as they do: -216 for an
invalid or expired access token; a refresh hands out a new access token AND a new refresh token, and the
old refresh token stops working."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

APP_ID = "1234567890"
SECRET = "s3cret"


@dataclass
class ZaloStandin:
    url: str = ""
    valid_access: set[str] = field(default_factory=lambda: {"access-1"})
    refresh_token: str = "refresh-1"
    expires_in: str = "90000"
    messages: list[dict[str, Any]] = field(default_factory=list)
    refreshes: list[dict[str, str]] = field(default_factory=list)
    rejected: int = 0
    fail_next: int = 0
    """Answer this many next requests with HTTP 503."""
    _n: itertools.count[int] = field(default_factory=lambda: itertools.count(2))

    def expire_all(self) -> None:
        self.valid_access.clear()

    async def message(self, request: web.Request) -> web.Response:
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=503, text="busy")
        token = request.headers.get("access_token", "")
        if token not in self.valid_access:
            self.rejected += 1
            return web.json_response({"error": -216, "message": "Access token is invalid"})
        body = await request.json()
        uid = body["recipient"]["user_id"]
        self.messages.append({"token": token, "user_id": uid, "text": body["message"]["text"]})
        return web.json_response({"error": 0, "message": "Success",
                                  "data": {"message_id": f"m{len(self.messages)}", "user_id": uid}})

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.refreshes.append({k: str(v) for k, v in form.items()})
        if request.headers.get("secret_key") != SECRET or form.get("app_id") != APP_ID:
            return web.json_response({"error": -14001, "error_name": "Invalid app",
                                      "error_description": "app_id or secret_key is wrong"})
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh_token:
            return web.json_response({"error": -14014, "error_name": "Invalid refresh token",
                                      "error_description": "Refresh token is invalid"})
        n = next(self._n)
        self.valid_access = {f"access-{n}"}
        self.refresh_token = f"refresh-{n}"
        return web.json_response({"access_token": f"access-{n}", "refresh_token": f"refresh-{n}",
                                  "expires_in": self.expires_in})


@asynccontextmanager
async def zalo_standin() -> AsyncIterator[ZaloStandin]:
    state = ZaloStandin()
    app = web.Application()
    app.router.add_post("/v3.0/oa/message/cs", state.message)
    app.router.add_post("/v4/oa/access_token", state.token)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    state.url = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        await runner.cleanup()
