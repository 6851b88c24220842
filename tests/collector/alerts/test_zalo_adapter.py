"""The Zalo adapter against a stand-in speaking Zalo's OA API: messages per recipient, token refresh on -216
and before expiry (new refresh token persisted), retries with backoff, 502 so Alertmanager retries."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from collector.alerts.zalo import Tokens, TokenStore, ZaloClient, ZaloSettings, format_message, make_app
from tests.support.alerts_env import alert
from tests.support.zalo_standin import APP_ID, SECRET, ZaloStandin, zalo_standin


@pytest.fixture
async def zalo() -> AsyncIterator[ZaloStandin]:
    async with zalo_standin() as z:
        yield z


def _settings(tmp_path: Path, z: ZaloStandin, **kw: Any) -> ZaloSettings:
    return ZaloSettings(app_id=APP_ID, secret_key=SECRET, token_file=tmp_path / "zalo-tokens.json",
                        api_base=z.url, oauth_base=z.url, backoff=0.01, **kw)


def _webhook(status: str = "firing") -> dict[str, Any]:
    a = alert("SiteLinkDown", "07900", kind="incident", incident_id="sitelink:07900/tru-so-chinh",
              summary="Mất kết nối Internet tại trụ sở chính", description="Gọi tổng đài VNPT 18001166.",
              resolved=status == "resolved")
    a["status"] = status
    return {"version": "4", "status": status, "receiver": "commune-07900", "alerts": [a],
            "commonLabels": a["labels"], "commonAnnotations": a["annotations"], "groupLabels": {}}


@pytest.fixture
async def adapter(tmp_path: Path, zalo: ZaloStandin) -> AsyncIterator[tuple[TestClient[Any, Any], ZaloClient]]:
    TokenStore(tmp_path / "zalo-tokens.json").save(Tokens("access-1", "refresh-1"))
    async with aiohttp.ClientSession() as session:
        client = ZaloClient(_settings(tmp_path, zalo), session)
        async with TestClient(TestServer(make_app(client), host="127.0.0.1")) as http:
            yield http, client


async def test_webhook_sends_vietnamese_text_to_every_recipient(adapter: tuple[TestClient[Any, Any], ZaloClient],
                                                                zalo: ZaloStandin) -> None:
    http, _ = adapter
    resp = await http.post("/alertmanager?to=111,222", json=_webhook())
    assert resp.status == 200, await resp.text()
    assert sorted(m["user_id"] for m in zalo.messages) == ["111", "222"]
    text = zalo.messages[0]["text"]
    assert text.startswith("[CẢNH BÁO] Phường Việt Trì – điểm tru-so-chinh")
    assert "Mất kết nối Internet tại trụ sở chính (đang xảy ra)" in text and "Gọi tổng đài VNPT" in text
    assert zalo.refreshes == []


async def test_expired_token_is_refreshed_once_and_the_new_refresh_token_persisted(
        tmp_path: Path, adapter: tuple[TestClient[Any, Any], ZaloClient], zalo: ZaloStandin) -> None:
    http, _ = adapter
    zalo.expire_all()  # Zalo now answers -216 to access-1
    resp = await http.post("/alertmanager?to=111,222,333", json=_webhook())
    assert resp.status == 200, await resp.text()
    assert len(zalo.refreshes) == 1, "concurrent sends share one refresh"
    assert zalo.refreshes[0] == {"app_id": APP_ID, "refresh_token": "refresh-1", "grant_type": "refresh_token"}
    assert {m["token"] for m in zalo.messages} == {"access-2"} and len(zalo.messages) == 3
    saved = json.loads((tmp_path / "zalo-tokens.json").read_text())
    assert saved["access_token"] == "access-2" and saved["refresh_token"] == "refresh-2"
    assert saved["expires_at"] > time.time() + 80000
    assert (tmp_path / "zalo-tokens.json").stat().st_mode & 0o777 == 0o600
    # a restarted adapter uses the persisted tokens: no refresh, the old refresh token is spent anyway
    async with aiohttp.ClientSession() as session:
        again = ZaloClient(_settings(tmp_path, zalo), session)
        await again.send_text("111", "thử")
    assert len(zalo.refreshes) == 1 and zalo.messages[-1]["token"] == "access-2"


async def test_token_is_refreshed_before_it_expires(tmp_path: Path, zalo: ZaloStandin) -> None:
    TokenStore(tmp_path / "zalo-tokens.json").save(Tokens("access-1", "refresh-1", time.time() + 60))
    async with aiohttp.ClientSession() as session:
        client = ZaloClient(_settings(tmp_path, zalo, refresh_margin=300), session)
        await client.send_text("111", "thử")
    assert zalo.rejected == 0 and len(zalo.refreshes) == 1
    assert zalo.messages == [{"token": "access-2", "user_id": "111", "text": "thử"}]


async def test_server_errors_are_retried_then_reported_as_502(adapter: tuple[TestClient[Any, Any], ZaloClient],
                                                             zalo: ZaloStandin) -> None:
    http, client = adapter
    zalo.fail_next = 2
    resp = await http.post("/alertmanager?to=111", json=_webhook())
    assert resp.status == 200 and len(zalo.messages) == 1
    zalo.fail_next = 100
    resp = await http.post("/alertmanager?to=111", json=_webhook())
    assert resp.status == 502, "Alertmanager must retry what did not go out"
    assert "111" in (await resp.json())["failed"]
    assert client.failed == 1 and len(zalo.messages) == 1


async def test_bad_refresh_token_fails_clearly(adapter: tuple[TestClient[Any, Any], ZaloClient],
                                               zalo: ZaloStandin) -> None:
    http, _ = adapter
    zalo.expire_all()
    zalo.refresh_token = "someone-else-refreshed"
    resp = await http.post("/alertmanager?to=111", json=_webhook())
    assert resp.status == 502
    assert "Refresh token is invalid" in (await resp.json())["failed"]["111"]


async def test_rejects_webhooks_without_recipients(adapter: tuple[TestClient[Any, Any], ZaloClient]) -> None:
    http, _ = adapter
    assert (await http.post("/alertmanager", json=_webhook())).status == 400
    assert (await http.post("/alertmanager?to=abc", json=_webhook())).status == 400


def test_resolved_message_text() -> None:
    text = format_message(_webhook("resolved"))
    assert text.startswith("[ĐÃ KHẮC PHỤC] Phường Việt Trì")
    assert "(đã khắc phục)" in text and "Kết thúc:" in text
