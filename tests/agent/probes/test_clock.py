"""clock probe against a local SNTP responder and a local HTTP server whose Date header can be moved."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent.config import parse_config
from agent.probes.base import ProbeContext
from agent.probes.clock import ClockConfig, ClockProbe
from agent.wire import Batch, Point, decode_batch, encode
from tests.support.schema import conforming


async def run_probe(cfg: ClockConfig) -> list[Point]:
    probe = ClockProbe(cfg, ProbeContext(agent_id="pc-clock-test"))
    try:
        points = conforming(await probe.collect())
    finally:
        await probe.close()
    # Every point must satisfy the wire contract (names, reserved tags, finite values).
    decode_batch(encode(Batch(v=1, agent="pc-clock-test", seq=1, sent=time.time_ns(), points=points)))
    return points


def only(points: list[Point], measurement: str, **tags: str) -> Point:
    found = [p for p in points if p.m == measurement and all(p.tg.get(k) == v for k, v in tags.items())]
    assert len(found) == 1, f"expected one {measurement} {tags}, got {found}"
    return found[0]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DateServer:
    """HTTP on 127.0.0.1 answering every request with a Date header ``date_offset_s`` from our clock."""

    def __init__(self) -> None:
        self.date_offset_s = 0.0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def date_time_string(self, timestamp: float | None = None) -> str:
                return formatdate(time.time() + server.date_offset_s, usegmt=True)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def date_server() -> Iterator[DateServer]:
    srv = DateServer()
    yield srv
    srv.close()


class SntpResponder:
    """A tiny local SNTP server whose clock runs ``offset_s`` ahead of ours (stopped at teardown)."""

    def __init__(self, offset_s: float, stratum: int = 2) -> None:
        self.offset_s = offset_s
        self.stratum = stratum
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        from agent.net.sntp import to_ntp

        while not self.stop.is_set():
            try:
                data, addr = self.sock.recvfrom(512)
            except TimeoutError:
                continue
            recv = to_ntp(time.time() + self.offset_s)
            orig = struct.unpack("!II", data[40:48])
            xmit = to_ntp(time.time() + self.offset_s)
            reply = struct.pack("!BBbb11I", 0x24, self.stratum, 0, -20, 0, 0, 0, *recv, *orig, *recv, *xmit)
            self.sock.sendto(reply, addr)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def sntp_server(request: pytest.FixtureRequest) -> Iterator[SntpResponder]:
    offset, stratum = request.param
    srv = SntpResponder(offset, stratum)
    yield srv
    srv.close()


@pytest.mark.parametrize(("sntp_server", "expect"), [((0.0, 2), "ok"), ((300.0, 2), "clock_wrong"),
                                                     ((-120.0, 2), "clock_wrong"), ((0.0, 0), "kiss_of_death")],
                         indirect=["sntp_server"])
async def test_clock_offset_ntp(sntp_server: SntpResponder, expect: str) -> None:
    server = f"127.0.0.1:{sntp_server.port}"
    cfg = parse_config({"agent": {"id": "a"}, "probes": {"clock": {"ntp_server": server}}}, "t").probes["clock"]
    assert isinstance(cfg, ClockConfig)
    points = await run_probe(cfg)
    pt = only(points, "token_clock")
    assert pt.tg == {"source": "ntp", "server": server}
    assert pt.f["result"] == expect
    if expect == "kiss_of_death":
        assert "offset_ms" not in pt.f
        assert pt.f["ok"] == 0
        return
    assert abs(float(pt.f["offset_ms"]) - sntp_server.offset_s * 1000.0) < 500.0  # offsets tested are 0 and ±120 s
    assert 0.0 <= float(pt.f["rtt_ms"]) < 1000.0
    lines = ClockProbe.check_lines(points)
    if expect == "ok":
        assert lines == []
    else:
        (line,) = lines
        assert line.status == "fail"
        assert ("chậm" if sntp_server.offset_s > 0 else "nhanh") in line.text
        assert f"{abs(sntp_server.offset_s):.0f} giây" in line.text
        assert "đồng bộ giờ" in line.text


async def test_clock_ntp_down_and_http_date(date_server: DateServer) -> None:
    date_server.date_offset_s = -600.0
    server = f"127.0.0.1:{free_port()}"
    cfg = parse_config({"agent": {"id": "a"}, "probes": {"clock": {
        "ntp_server": server, "http_url": date_server.url("/time"), "timeout": "500ms"}}}, "t").probes["clock"]
    assert isinstance(cfg, ClockConfig)
    points = await run_probe(cfg)
    ntp_pt = only(points, "token_clock", source="ntp")
    # Nothing listens: ICMP port unreachable surfaces as an error, or the query times out.
    assert ntp_pt.f["result"] in ("connect_error", "timeout")
    assert ntp_pt.f["ok"] == 0
    assert "offset_ms" not in ntp_pt.f
    http_pt = only(points, "token_clock", source="http")
    assert http_pt.tg == {"source": "http", "server": date_server.url("/time")}
    assert abs(float(http_pt.f["offset_ms"]) + 600_000.0) <= 1500.0  # the Date header has 1 s resolution
    assert http_pt.f["result"] == "clock_wrong"
    assert "ahead of" in str(http_pt.f["reason"])
    date_server.date_offset_s = 0.0
    points = await run_probe(cfg)
    assert only(points, "token_clock", source="http").f["result"] == "ok"
