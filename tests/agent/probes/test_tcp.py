"""tcp probe against asyncio TCP listeners on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket

from agent.probes.base import ProbeContext
from agent.probes.tcp import TcpConfig, TcpProbe, TcpTarget
from tests.support.schema import conforming

CTX = ProbeContext(agent_id="t")


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_tcp_connect_ok_and_refused() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    closed = free_port(socket.SOCK_STREAM)
    try:
        probe = TcpProbe(TcpConfig(targets=[TcpTarget(host="127.0.0.1", port=port, name="open"),
                                            TcpTarget(host="127.0.0.1", port=closed, name="closed")]), CTX)
        points = {p.tg["name"]: p for p in conforming(await probe.collect())}
    finally:
        server.close()
    assert points["open"].f["result"] == "ok"
    assert float(points["open"].f["connect_ms"]) >= 0.0
    assert points["closed"].f["result"] == "connect_refused"
