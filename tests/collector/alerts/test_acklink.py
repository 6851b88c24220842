"""Signed acknowledge links: verified, tamper-proof, expiring; GET /ack creates a real Alertmanager silence
that stops the alert's notifications."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from collector.alerts.acklink import AckLinkError, AckSigner, ack_handler
from collector.alerts.alertmanager import AlertmanagerClient
from tests.support.alertmanager import AM, start_alertmanager
from tests.support.alerts_env import alert, write_config
from tests.support.smtp import smtp_sink

SIGNER = AckSigner(b"0123456789abcdef-test-secret")
LABELS = {"alertname": "AgentOffline", "commune": "07900", "site": "tru-so-chinh", "agent": "pc-01",
          "severity": "warning", "kind": "alert", "province": "25"}


def test_token_round_trip_keeps_only_identifying_labels() -> None:
    got = SIGNER.verify(SIGNER.make_token(LABELS))
    assert got == {"alertname": "AgentOffline", "commune": "07900", "site": "tru-so-chinh", "agent": "pc-01",
                   "province": "25"}


def test_tampered_foreign_and_expired_tokens_are_refused() -> None:
    token = SIGNER.make_token(LABELS, now=1000.0)
    sig = token.split(".")[1]
    forged = SIGNER.make_token({**LABELS, "commune": "08515"}, now=1000.0).split(".")[0] + "." + sig
    with pytest.raises(AckLinkError, match="signature"):
        SIGNER.verify(forged, now=1001.0)
    with pytest.raises(AckLinkError, match="signature"):
        AckSigner(b"another-secret-of-16+bytes").verify(token, now=1001.0)
    with pytest.raises(AckLinkError, match="expired"):
        SIGNER.verify(token, now=1000.0 + 2 * 86400 + 1)
    with pytest.raises(AckLinkError, match="malformed"):
        SIGNER.verify("garbage")
    assert SIGNER.verify(token, now=1001.0)["commune"] == "07900"


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        AckSigner(b"short")


@pytest.fixture
def am(tmp_path: Path) -> Iterator[AM]:
    with smtp_sink() as sink:
        conf = write_config(tmp_path / "am", ["07900"], smtp_port=sink.port)
        m = start_alertmanager(tmp_path / "am", conf.read_text(encoding="utf-8"))
        try:
            yield m
        finally:
            m.service.stop()


@pytest.fixture
async def web_client(am: AM) -> AsyncIterator[tuple[TestClient[Any, Any], AlertmanagerClient]]:
    async with AlertmanagerClient([am.url], timeout=3) as client:
        app = web.Application()
        app.router.add_get("/ack", ack_handler(SIGNER, client, timedelta(hours=4)))
        async with TestClient(TestServer(app, host="127.0.0.1")) as http:
            yield http, client


async def test_ack_link_silences_the_alert_in_alertmanager(web_client: tuple[TestClient[Any, Any],
                                                                              AlertmanagerClient]) -> None:
    http, client = web_client
    firing = alert("AgentOffline", "07900", agent="pc-01")
    other = alert("AgentOffline", "07900", agent="pc-02")
    assert await client.post([firing, other]) == {client.urls[0]: True}
    resp = await http.get("/ack", params={"token": SIGNER.make_token(firing["labels"])})
    text = await resp.text()
    assert resp.status == 200, text
    assert "Đã xác nhận cảnh báo" in text and "4 giờ" in text
    active = await client.silences(active_only=True)
    assert len(active) == 1
    s = active[0]
    assert {m["name"]: m["value"] for m in s["matchers"]}["agent"] == "pc-01"
    assert s["createdBy"] == "ack-link"
    held = {a["labels"]["agent"]: a["status"]["silencedBy"] for a in await client.alerts(['commune="07900"'])}
    assert held == {"pc-01": [s["id"]], "pc-02": []}


async def test_bad_and_expired_links_create_no_silence(web_client: tuple[TestClient[Any, Any],
                                                                          AlertmanagerClient]) -> None:
    http, client = web_client
    resp = await http.get("/ack", params={"token": "abc.def"})
    assert resp.status == 403 and "Liên kết không hợp lệ" in await resp.text()
    old = SIGNER.make_token(LABELS, now=time.time() - 3 * 86400)
    assert (await http.get("/ack", params={"token": old})).status == 410
    assert await client.silences() == []
