"""tcp: TCP connect time to configured host:port pairs (e.g. the provincial data centre's VPN or mail
server), like blackbox_exporter's tcp prober without TLS.

Measurement ``tcp`` (tags ``target`` = host:port, ``name`` = label, ``role``): connect_ms (float, ms;
includes name resolution when ``host`` is a name), dns_ms (float, ms), plus result/ok/reason.

Result codes: ok; dns_error; connect_refused (RST: the host is up, nothing listens); connect_timeout;
unreachable (ICMP host/net unreachable, no route); error.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import time
from enum import StrEnum
from typing import Annotated, ClassVar, Final, Literal

import msgspec

from agent.probes.base import CheckLine, Probe, ProbeConfig, result_fields
from agent.units import Duration
from agent.wire import Point
from agent.wire.spec import RESULT_FIELDS, MeasurementSpec, float_field, measurement
from common import vnformat


class TcpResult(StrEnum):
    OK = "ok"
    DNS_ERROR = "dns_error"
    CONNECT_REFUSED = "connect_refused"
    """RST: the host is up, nothing listens."""
    CONNECT_TIMEOUT = "connect_timeout"
    UNREACHABLE = "unreachable"
    """ICMP host/net unreachable."""
    ERROR = "error"

class TcpTarget(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    host: Annotated[str, msgspec.Meta(min_length=1)]
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)]
    name: str = ""
    role: Literal["public", "datacentre", "portal", "other"] = "other"


class TcpConfig(ProbeConfig, kw_only=True):
    interval: Duration = Duration(60)
    timeout: Duration = Duration(15)
    targets: list[TcpTarget] = msgspec.field(default_factory=list)
    connect_timeout: Duration = Duration(5)


MEASUREMENTS: Final = (
    measurement("tcp", "tcp", {"target": "host:port", "name": "label", "role": "public / datacentre / portal / other"}, {
        "connect_ms": float_field("ms", "SYN -> established"),
        "dns_ms": float_field("ms", "name resolution"),
        **RESULT_FIELDS,
    }),
)


class TcpProbe(Probe[TcpConfig]):
    name: ClassVar[str] = "tcp"
    results: ClassVar[type[StrEnum] | None] = TcpResult
    Config: ClassVar[type[ProbeConfig]] = TcpConfig
    measurements: ClassVar[tuple[MeasurementSpec, ...]] = MEASUREMENTS

    async def collect(self) -> list[Point]:
        return list(await asyncio.gather(*(self._one(t) for t in self.config.targets)))

    async def _one(self, t: TcpTarget) -> Point:
        ts = self.ctx.clock_ns()
        tags = {"target": f"{t.host}:{t.port}", "name": t.name or f"{t.host}:{t.port}", "role": t.role}
        limit = float(self.config.connect_timeout)
        loop = asyncio.get_running_loop()
        start = time.perf_counter()
        try:
            async with asyncio.timeout(limit):
                infos = await loop.getaddrinfo(t.host, t.port, type=socket.SOCK_STREAM)
        except (socket.gaierror, TimeoutError) as exc:
            return self.point("tcp", result_fields(TcpResult.DNS_ERROR, f"cannot resolve {t.host}: {exc}"), tags, ts)
        dns_ms = (time.perf_counter() - start) * 1000.0
        addr = infos[0][4]
        t0 = time.perf_counter()
        try:
            async with asyncio.timeout(limit):
                _r, writer = await asyncio.open_connection(str(addr[0]), int(addr[1]))
        except TimeoutError:
            return self.point("tcp", {"dns_ms": dns_ms, **result_fields(
                TcpResult.CONNECT_TIMEOUT, f"no answer from {addr[0]}:{t.port} within {limit:g}s")}, tags, ts)
        except ConnectionRefusedError:
            return self.point("tcp", {"dns_ms": dns_ms, **result_fields(
                TcpResult.CONNECT_REFUSED, f"{addr[0]}:{t.port} refused the connection")}, tags, ts)
        except OSError as exc:
            code = TcpResult.UNREACHABLE if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH) else TcpResult.ERROR
            return self.point("tcp", {"dns_ms": dns_ms, **result_fields(
                code, f"{addr[0]}:{t.port}: {exc.strerror or exc}")}, tags, ts)
        connect_ms = (time.perf_counter() - t0) * 1000.0
        writer.close()
        return self.point("tcp", {"dns_ms": dns_ms, "connect_ms": connect_ms, **result_fields(TcpResult.OK)}, tags, ts)

    @classmethod
    def check_lines(cls, points: list[Point]) -> list[CheckLine]:
        out = []
        for p in points:
            if p.m != "tcp":
                continue
            target = f"Kết nối tới {p.tg.get('name', '')}"
            if p.f.get("ok") == 1:
                ms = vnformat.with_unit(float(p.f.get("connect_ms", 0.0)), "ms")
                out.append(CheckLine("Mạng", target, "ok", f"Kết nối được trong {ms}."))
            else:
                out.append(CheckLine("Mạng", target, "fail", "Không kết nối được tới máy này."))
        return out
