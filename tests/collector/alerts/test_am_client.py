"""AlertmanagerClient: a member that hangs or is down costs only its own post (counted), never the others."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from collector.alerts import silences
from collector.alerts.alertmanager import AlertmanagerClient, AlertmanagerError
from devstack import services as stack
from tests.support.alertmanager import start_alertmanager
from tests.support.alerts_env import alert, write_config


@pytest.fixture
async def hanging_member() -> AsyncIterator[str]:
    """An HTTP server that accepts requests and never answers them."""
    never = asyncio.Event()

    async def hang(_request: web.Request) -> web.Response:
        await never.wait()
        return web.Response()

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hang)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    never.set()
    await runner.cleanup()


async def test_hanging_and_dead_members_do_not_stop_the_live_one(tmp_path: Path, hanging_member: str) -> None:
    conf = write_config(tmp_path / "am", ["07900"], smtp_port=stack.free_port())
    am = start_alertmanager(tmp_path / "am", conf.read_text(encoding="utf-8"))
    dead = f"http://127.0.0.1:{stack.free_port()}"
    try:
        async with AlertmanagerClient([hanging_member, dead, am.url], timeout=1) as client:
            res = await client.post([alert("AgentOffline", "07900")])
            assert res == {hanging_member: False, dead: False, am.url: True}
            assert [client.stats[u].failures for u in (hanging_member, dead, am.url)] == [1, 1, 0]
            assert client.stats[hanging_member].last_error.startswith("TimeoutError")
        async with AlertmanagerClient([am.url]) as live:
            assert [a["labels"]["commune"] for a in await live.alerts(['alertname="AgentOffline"'])] == ["07900"]
    finally:
        am.service.stop()


async def test_silence_calls_fail_over_and_report_every_member(tmp_path: Path) -> None:
    conf = write_config(tmp_path / "am", ["07900"], smtp_port=stack.free_port())
    am = start_alertmanager(tmp_path / "am", conf.read_text(encoding="utf-8"))
    dead = f"http://127.0.0.1:{stack.free_port()}"
    try:
        async with AlertmanagerClient([dead, am.url], timeout=2) as client:
            sid = await silences.maintenance_window(client, "07900", timedelta(hours=1), site="tru-so-chinh")
            (s,) = await client.silences(active_only=True)
            assert s["id"] == sid and s["comment"] == "Bảo trì 07900/tru-so-chinh"
            assert {m["name"]: m["value"] for m in s["matchers"]} == {"commune": "07900", "site": "tru-so-chinh"}
        am.service.stop()
        async with AlertmanagerClient([dead, am.url], timeout=2) as client:
            with pytest.raises(AlertmanagerError, match="failed on every Alertmanager") as err:
                await client.silences()
            assert dead in str(err.value) and am.url in str(err.value)
    finally:
        am.service.stop()


async def test_invalid_windows_are_refused_before_any_call() -> None:
    async with AlertmanagerClient(["http://127.0.0.1:1"]) as client:
        with pytest.raises(ValueError, match="not a commune of province 25"):
            await silences.maintenance_window(client, "99999", timedelta(hours=1))
        with pytest.raises(ValueError, match="positive duration"):
            await silences.maintenance_window(client, "07900", timedelta(0))
        now = datetime.now(UTC)
        with pytest.raises(ValueError, match="end after"):
            await client.create_silence(silences.window_matchers("07900"), now, now, "t", "c")
        assert client.stats["http://127.0.0.1:1"].failures == 0
