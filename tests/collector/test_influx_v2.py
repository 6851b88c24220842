"""The v2 writer against a local stand-in that follows InfluxDB 2.x's documented /api/v2/write contract
(InfluxDB 2.x/3.x cannot be installed here): token auth, org/bucket/precision parameters, 204 on success,
401 unauthorized, 404 unknown bucket, 400 for unparsable line protocol, 503 while unavailable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from collector.config import InfluxSection
from collector.errors import WriteError
from collector.influx import V2Writer, make_influx_client


@dataclass
class StandIn:
    url: str
    received: list[bytes] = field(default_factory=list)
    unavailable: bool = False


@pytest.fixture
async def influx2() -> AsyncIterator[StandIn]:
    state = StandIn("")

    async def write(request: web.Request) -> web.Response:
        if state.unavailable:
            return web.json_response({"code": "unavailable", "message": "service unavailable"}, status=503)
        if request.headers.get("Authorization") != "Token s3cret":
            return web.json_response({"code": "unauthorized", "message": "unauthorized access"}, status=401)
        q = request.query
        if q.get("org") != "phutho" or q.get("precision") != "ns":
            return web.json_response({"code": "invalid", "message": "bad org or precision"}, status=400)
        if q.get("bucket") != "commune_monitor":
            return web.json_response({"code": "not found", "message": f'bucket "{q.get("bucket")}" not found'}, status=404)
        body = await request.read()
        for n, line in enumerate(body.split(b"\n"), 1):
            if line and len(line.split(b" ")) < 2:
                return web.json_response({"code": "invalid", "message": f"unable to parse '{line.decode()}': missing fields",
                                          "line": n}, status=400)
        state.received.append(body)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/api/v2/write", write)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.url = f"http://127.0.0.1:{port}"
    yield state
    await runner.cleanup()


def _cfg(url: str, **over: str) -> InfluxSection:
    base = {"url": url, "api": "v2", "org": "phutho", "bucket": "commune_monitor", "token": "s3cret"}
    base.update(over)
    return InfluxSection(**base)  # type: ignore[arg-type]


async def test_v2_write_sends_token_org_bucket(influx2: StandIn) -> None:
    writer = make_influx_client(_cfg(influx2.url))
    assert isinstance(writer, V2Writer)
    await writer.write(b"m,commune=07900 v=1.0 1\nm,commune=07900 v=2.0 2")
    await writer.close()
    assert influx2.received == [b"m,commune=07900 v=1.0 1\nm,commune=07900 v=2.0 2"]


@pytest.mark.parametrize(("over", "status", "reason"), [({"token": "wrong"}, 401, "unauthorized"),
                                                     ({"bucket": "other"}, 404, "not_found")])
async def test_v2_auth_and_missing_bucket_block_and_keep_the_data(influx2: StandIn, over: dict[str, str], status: int,
                                                                  reason: str) -> None:
    """A wrong token or a missing bucket is not the data's fault: the write is retried (never quarantined)."""
    writer = make_influx_client(_cfg(influx2.url, **over))
    with pytest.raises(WriteError) as err:
        await writer.write(b"m v=1.0 1")
    await writer.close()
    assert err.value.status == status and err.value.retryable
    assert err.value.kind == "blocked" and err.value.reason == reason


async def test_v2_bad_line_and_unavailable(influx2: StandIn) -> None:
    writer = make_influx_client(_cfg(influx2.url))
    with pytest.raises(WriteError) as err:
        await writer.write(b"m v=1.0 1\ngarbage")
    assert err.value.status == 400 and "unable to parse" in str(err.value) and not err.value.retryable
    assert err.value.kind == "content"
    influx2.unavailable = True
    with pytest.raises(WriteError) as err:
        await writer.write(b"m v=1.0 1")
    assert err.value.status == 503 and err.value.retryable
    await writer.close()
