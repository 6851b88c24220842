"""A tiny SNTP client (RFC 4330): one request, the clock offset and round-trip delay, with a timeout.

offset = ((t2 - t1) + (t3 - t4)) / 2 and delay = (t4 - t1) - (t3 - t2), where t1/t4 are our send/receive
times and t2/t3 the server's receive/transmit times. Positive offset: the server is ahead of us
(our clock is slow).
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

from agent.probes.base import ProbeFailure

NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01
# 48 bytes: flags, stratum, poll, precision, then 11 words: root delay, root dispersion, reference id,
# reference ts (2), originate ts (2), receive ts (2), transmit ts (2).
_PACKET = struct.Struct("!BBbb11I")



@dataclass(frozen=True)
class SntpResult:
    offset_s: float
    delay_s: float
    stratum: int
    server: str


def to_ntp(unix_s: float) -> tuple[int, int]:
    """Unix seconds -> NTP (seconds, fraction) words."""
    ntp = unix_s + NTP_EPOCH_OFFSET
    sec = int(ntp)
    return sec & 0xFFFFFFFF, int((ntp - sec) * 2**32) & 0xFFFFFFFF


def from_ntp(sec: int, frac: int) -> float:
    return sec - NTP_EPOCH_OFFSET + frac / 2**32


def parse_server(spec: str) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[v6]:port`` -> (host, port); default port 123."""
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else 123
    if spec.count(":") == 1:
        host, port = spec.split(":")
        return host, int(port)
    return spec, 123


class _Proto(asyncio.DatagramProtocol):
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.answer: asyncio.Future[tuple[bytes, float]] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        if not self.answer.done():
            self.answer.set_result((data, self.clock()))

    def error_received(self, exc: Exception) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc)


async def query(server: str, limit_s: float = 5.0, clock: Callable[[], float] = time.time) -> SntpResult:
    """Ask ``server`` (host[:port]) for the time once. Raises ProbeFailure."""
    host, port = parse_server(server)
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(limit_s):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except (socket.gaierror, TimeoutError) as exc:
        raise ProbeFailure("dns_error", f"cannot resolve {host}: {exc}") from None
    addr = infos[0][4]
    transport, proto = await loop.create_datagram_endpoint(lambda: _Proto(clock), remote_addr=(str(addr[0]), int(addr[1])))
    try:
        # The transmit timestamp is random (RFC 4330 recommends not leaking our clock); we keep t1 locally.
        nonce_sec, nonce_frac = struct.unpack("!II", os.urandom(8))
        t1 = clock()
        transport.sendto(_PACKET.pack(0x23, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, nonce_sec, nonce_frac))  # LI 0, VN 4, mode 3
        try:
            async with asyncio.timeout(limit_s):
                data, t4 = await proto.answer
        except TimeoutError:
            raise ProbeFailure("timeout", f"no answer from {server} within {limit_s:g}s") from None
        except OSError as exc:
            raise ProbeFailure("connect_error", f"{server}: {exc.strerror or exc}") from None
    finally:
        transport.close()
    if len(data) < 48:
        raise ProbeFailure("bad_response", f"{server} sent {len(data)} bytes, expected 48")
    flags, stratum, _poll, _prec, *words = _PACKET.unpack(data[:48])
    mode = flags & 0x7
    if mode not in (4, 5):
        raise ProbeFailure("bad_response", f"{server} answered with mode {mode}, expected 4 (server)")
    if (words[5], words[6]) != (nonce_sec, nonce_frac):
        raise ProbeFailure("bad_response", f"{server} answer does not echo our request")
    if stratum == 0:
        raise ProbeFailure("kiss_of_death", f"{server} refused the query (kiss-o'-death)")
    t2 = from_ntp(words[7], words[8])
    t3 = from_ntp(words[9], words[10])
    if words[9] == 0 and words[10] == 0:
        raise ProbeFailure("bad_response", f"{server} answer has no transmit timestamp")
    return SntpResult(offset_s=((t2 - t1) + (t3 - t4)) / 2.0, delay_s=(t4 - t1) - (t3 - t2), stratum=stratum, server=server)
