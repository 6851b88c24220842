"""agent.net.sntp against real local UDP responders that answer correctly, wrongly or not at all."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from agent.net import sntp
from agent.probes.base import ProbeFailure


def responder(make_reply: Callable[[bytes], bytes]) -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, addr = sock.recvfrom(512)
            except TimeoutError:
                continue
            sock.sendto(make_reply(data), addr)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(sock.getsockname()[1])
    stop.set()
    thread.join(5)
    sock.close()


def good_reply(offset_s: float) -> Callable[[bytes], bytes]:
    def reply(data: bytes) -> bytes:
        now = sntp.to_ntp(time.time() + offset_s)
        orig = struct.unpack("!II", data[40:48])
        return struct.pack("!BBbb11I", 0x24, 1, 0, -20, 0, 0, 0, *now, *orig, *now, *now)
    return reply


@pytest.fixture
def ahead_server() -> Iterator[int]:
    yield from responder(good_reply(42.0))


@pytest.fixture
def wrong_origin_server() -> Iterator[int]:
    def reply(data: bytes) -> bytes:
        now = sntp.to_ntp(time.time())
        return struct.pack("!BBbb11I", 0x24, 1, 0, -20, 0, 0, 0, *now, 1, 2, *now, *now)
    yield from responder(reply)


@pytest.fixture
def short_server() -> Iterator[int]:
    yield from responder(lambda data: b"\x24\x01")


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A bound UDP socket that never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield int(sock.getsockname()[1])
    sock.close()


async def test_offset_and_delay(ahead_server: int) -> None:
    res = await sntp.query(f"127.0.0.1:{ahead_server}", limit_s=2)
    assert abs(res.offset_s - 42.0) < 0.5  # 42 s injected: 0.5 s separates right from wrong on a loaded machine
    assert 0.0 <= res.delay_s < 1.0
    assert res.stratum == 1


async def test_answer_must_echo_our_request(wrong_origin_server: int) -> None:
    with pytest.raises(ProbeFailure) as err:
        await sntp.query(f"127.0.0.1:{wrong_origin_server}", limit_s=2)
    assert err.value.code == "bad_response"
    assert "does not echo" in err.value.reason


async def test_short_answer(short_server: int) -> None:
    with pytest.raises(ProbeFailure) as err:
        await sntp.query(f"127.0.0.1:{short_server}", limit_s=2)
    assert err.value.code == "bad_response"


async def test_no_answer_times_out(silent_port: int) -> None:
    with pytest.raises(ProbeFailure) as err:
        await sntp.query(f"127.0.0.1:{silent_port}", limit_s=0.3)
    assert err.value.code == "timeout"


@pytest.mark.parametrize(("spec", "expected"), [
    ("pool.ntp.org", ("pool.ntp.org", 123)), ("127.0.0.1:1123", ("127.0.0.1", 1123)),
    ("[::1]:1123", ("::1", 1123)), ("[::1]", ("::1", 123)), ("::1", ("::1", 123)),
])
def test_parse_server(spec: str, expected: tuple[str, int]) -> None:
    assert sntp.parse_server(spec) == expected


def test_ntp_timestamps_round_trip() -> None:
    assert abs(sntp.from_ntp(*sntp.to_ntp(1_700_000_000.25)) - 1_700_000_000.25) < 1e-6
