"""A minimal DNS client over UDP (RFC 1035): one question, A or AAAA, answers parsed; enough to time a
resolver without a DNS library. Raises ``ProbeFailure`` with a result code on every failure."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import struct
import time
from dataclasses import dataclass, field

from agent.probes.base import ProbeFailure

QTYPES = {"A": 1, "AAAA": 28}
RCODES = {0: "noerror", 1: "formerr", 2: "servfail", 3: "nxdomain", 4: "notimp", 5: "refused"}



@dataclass
class DnsAnswer:
    rcode: str
    addresses: list[str] = field(default_factory=list)
    elapsed_ms: float = 0.0


def build_query(qname: str, qtype: int, qid: int) -> bytes:
    header = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)  # RD
    labels = b"".join(bytes([len(p)]) + p for p in (x.encode("idna") for x in qname.rstrip(".").split(".")) if p)
    return header + labels + b"\x00" + struct.pack("!HH", qtype, 1)


def _skip_name(data: bytes, pos: int) -> int:
    while True:
        if pos >= len(data):
            raise ProbeFailure("bad_response", "truncated name")
        length = data[pos]
        if length & 0xC0 == 0xC0:
            return pos + 2
        if length == 0:
            return pos + 1
        pos += 1 + length


def parse_response(data: bytes, qid: int, qtype: int) -> DnsAnswer:
    if len(data) < 12:
        raise ProbeFailure("bad_response", f"reply of {len(data)} bytes is too short")
    rid, flags, qd, an, _ns, _ar = struct.unpack("!HHHHHH", data[:12])
    if rid != qid or not flags & 0x8000:
        raise ProbeFailure("bad_response", "reply does not match the query")
    rcode = RCODES.get(flags & 0xF, f"rcode{flags & 0xF}")
    pos = 12
    for _ in range(qd):
        pos = _skip_name(data, pos) + 4
    addrs = []
    for _ in range(an):
        pos = _skip_name(data, pos)
        if pos + 10 > len(data):
            raise ProbeFailure("bad_response", "truncated answer")
        rtype, _cls, _ttl, rdlen = struct.unpack("!HHIH", data[pos : pos + 10])
        pos += 10
        rdata = data[pos : pos + rdlen]
        pos += rdlen
        if rtype == qtype == 1 and rdlen == 4:
            addrs.append(str(ipaddress.IPv4Address(rdata)))
        elif rtype == qtype == 28 and rdlen == 16:
            addrs.append(str(ipaddress.IPv6Address(rdata)))
    return DnsAnswer(rcode, addrs)


class _Proto(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue[bytes] = asyncio.Queue()
        self.error: OSError | None = None

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.replies.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        self.error = exc if isinstance(exc, OSError) else OSError(str(exc))
        self.replies.put_nowait(b"")


async def query(server: str, port: int, qname: str, rtype: str = "A", timeout: float = 2.0) -> DnsAnswer:  # noqa: ASYNC109
    """Ask ``server`` once; the answer's ``elapsed_ms`` is send -> matching reply."""
    qtype = QTYPES[rtype]
    qid = int.from_bytes(os.urandom(2), "big")
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    try:
        transport, proto = await loop.create_datagram_endpoint(_Proto, remote_addr=(server, port), family=family)
    except OSError as exc:
        raise ProbeFailure("error", f"cannot reach {server}:{port}: {exc.strerror or exc}") from None
    try:
        start = time.perf_counter()
        transport.sendto(build_query(qname, qtype, qid))
        deadline = start + timeout
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise ProbeFailure("timeout", f"no answer from {server} within {timeout:g}s")
            try:
                data = await asyncio.wait_for(proto.replies.get(), remaining)
            except TimeoutError:
                raise ProbeFailure("timeout", f"no answer from {server} within {timeout:g}s") from None
            if not data:
                err = proto.error
                raise ProbeFailure("unreachable", f"{server}:{port}: {err.strerror if err else 'ICMP error'}")
            try:
                answer = parse_response(data, qid, qtype)
            except ProbeFailure:
                continue  # a stray or spoofed datagram: keep waiting for ours
            answer.elapsed_ms = (time.perf_counter() - start) * 1000.0
            return answer
    finally:
        transport.close()
