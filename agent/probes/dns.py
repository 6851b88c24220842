"""dns: resolution time and result per configured resolver (the ISP's DNS, public resolvers, the
provincial DNS) and through this PC's own resolver (``system``), for each configured name.

Measurement ``dns`` (tags ``resolver`` = address or ``system``, ``resolver_name`` = label, ``role`` =
isp / public / datacentre / local / system, ``query`` = the name asked): lookup_ms (float, ms),
answers (int, number of addresses), address (string, first address), rcode (string), plus
result/ok/reason.

Result codes: ok; nxdomain (the name does not exist); servfail; refused; no_answer (NOERROR but no
address); timeout (no answer within ``query_timeout``); unreachable (ICMP port/host unreachable);
bad_response; error.
"""

from __future__ import annotations

import asyncio
import socket
import time
from enum import StrEnum
from typing import Annotated, ClassVar, Final, Literal

import msgspec

from agent.net.dnswire import query
from agent.probes.base import CheckLine, Probe, ProbeConfig, ProbeFailure, parse_result, result_fields
from agent.units import Duration
from agent.wire import Point
from agent.wire.spec import RESULT_FIELDS, MeasurementSpec, float_field, int_field, measurement, str_field
from common import vnformat


class DnsResult(StrEnum):
    OK = "ok"
    NXDOMAIN = "nxdomain"
    SERVFAIL = "servfail"
    REFUSED = "refused"
    NO_ANSWER = "no_answer"
    """NOERROR without an address."""
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    """ICMP port/host unreachable."""
    BAD_RESPONSE = "bad_response"
    ERROR = "error"

class Resolver(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    address: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-fA-F.:]+\Z")]
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 53
    name: str = ""
    role: Literal["isp", "public", "datacentre", "local"] = "isp"


class DnsConfig(ProbeConfig, kw_only=True):
    interval: Duration = Duration(60)
    timeout: Duration = Duration(15)
    resolvers: list[Resolver] = msgspec.field(default_factory=list)
    system: bool = True
    """Also time a lookup through this PC's own resolver (getaddrinfo)."""
    names: Annotated[list[str], msgspec.Meta(min_length=1)] = msgspec.field(
        default_factory=lambda: ["dichvucong.gov.vn"])
    record_type: Literal["A", "AAAA"] = "A"
    query_timeout: Duration = Duration(3)


_RCODE_RESULT = {"nxdomain": DnsResult.NXDOMAIN, "servfail": DnsResult.SERVFAIL, "refused": DnsResult.REFUSED}


MEASUREMENTS: Final = (
    measurement("dns", "dns", {"resolver": "address or system", "resolver_name": "label",
                               "role": "isp / public / datacentre / local / system", "query": "name looked up"}, {
        "lookup_ms": float_field("ms"),
        "answers": int_field("count", "addresses in the answer"),
        "address": str_field("first address", max_length=64),
        "rcode": str_field("noerror, nxdomain, servfail, refused...", max_length=32),
        **RESULT_FIELDS,
    }),
)


class DnsProbe(Probe[DnsConfig]):
    name: ClassVar[str] = "dns"
    results: ClassVar[type[StrEnum] | None] = DnsResult
    Config: ClassVar[type[ProbeConfig]] = DnsConfig
    measurements: ClassVar[tuple[MeasurementSpec, ...]] = MEASUREMENTS

    async def collect(self) -> list[Point]:
        jobs = [self._one(r, q) for r in self.config.resolvers for q in self.config.names]
        if self.config.system:
            jobs += [self._system(q) for q in self.config.names]
        return list(await asyncio.gather(*jobs))

    async def _one(self, resolver: Resolver, qname: str) -> Point:
        ts = self.ctx.clock_ns()
        tags = {"resolver": resolver.address, "resolver_name": resolver.name or resolver.address,
                "role": resolver.role, "query": qname}
        try:
            ans = await query(resolver.address, resolver.port, qname, self.config.record_type,
                              float(self.config.query_timeout))
        except ProbeFailure as exc:
            return self.point("dns", {"answers": 0, **result_fields(DnsResult(exc.code), exc.reason)}, tags, ts)
        fields: dict[str, float | int | str | bool | None] = {
            "lookup_ms": ans.elapsed_ms, "answers": len(ans.addresses), "rcode": ans.rcode,
            "address": ans.addresses[0] if ans.addresses else None,
        }
        if ans.rcode != "noerror":
            code = _RCODE_RESULT.get(ans.rcode, DnsResult.BAD_RESPONSE)
            fields.update(result_fields(code, f"{resolver.address} answered {ans.rcode.upper()} for {qname}"))
        elif not ans.addresses:
            fields.update(result_fields(DnsResult.NO_ANSWER, f"{resolver.address} has no {self.config.record_type} record for {qname}"))
        else:
            fields.update(result_fields(DnsResult.OK))
        return self.point("dns", fields, tags, ts)

    async def _system(self, qname: str) -> Point:
        ts = self.ctx.clock_ns()
        tags = {"resolver": "system", "resolver_name": "system", "role": "system", "query": qname}
        family = socket.AF_INET6 if self.config.record_type == "AAAA" else socket.AF_INET
        loop = asyncio.get_running_loop()
        start = time.perf_counter()
        try:
            async with asyncio.timeout(float(self.config.query_timeout)):
                infos = await loop.getaddrinfo(qname, None, family=family, type=socket.SOCK_STREAM)
        except TimeoutError:
            return self.point("dns", {"answers": 0, **result_fields(
                DnsResult.TIMEOUT, f"system resolver gave no answer within {self.config.query_timeout:g}s")}, tags, ts)
        except socket.gaierror as exc:
            code = DnsResult.NXDOMAIN if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)) else DnsResult.ERROR
            if exc.errno == socket.EAI_AGAIN:
                code = DnsResult.TIMEOUT
            return self.point("dns", {"answers": 0, "lookup_ms": (time.perf_counter() - start) * 1000.0,
                                      **result_fields(code, f"system resolver: {exc.strerror or exc}")}, tags, ts)
        addrs = sorted({str(i[4][0]) for i in infos})
        return self.point("dns", {"lookup_ms": (time.perf_counter() - start) * 1000.0, "answers": len(addrs),
                                  "address": addrs[0] if addrs else None, "rcode": "noerror",
                                  **result_fields(DnsResult.OK)}, tags, ts)

    @classmethod
    def check_lines(cls, points: list[Point]) -> list[CheckLine]:
        lines = []
        for p in points:
            if p.m != "dns":
                continue
            who = "DNS của máy" if p.tg.get("role") == "system" else f"DNS {p.tg.get('resolver_name', '')}".strip()
            target = f"Tra tên {p.tg.get('query', '')} qua {who}"
            if p.f.get("ok") == 1:
                ms = vnformat.with_unit(float(p.f.get("lookup_ms", 0.0)), "ms")
                lines.append(CheckLine("Mạng", target, "ok", f"Tìm được địa chỉ trong {ms}."))
            else:
                known = parse_result(DnsResult, p.f.get("result"))
                lines.append(CheckLine("Mạng", target, "fail", TEXTS.get(known, TEXTS[DnsResult.ERROR]) if known
                                       else TEXTS[DnsResult.ERROR]))
        return lines


TEXTS: dict[DnsResult, str] = {
    DnsResult.NXDOMAIN: "Tên miền không tồn tại.",
    DnsResult.SERVFAIL: "Máy chủ DNS gặp lỗi nên không tìm được địa chỉ của tên miền.",
    DnsResult.REFUSED: "Máy chủ DNS từ chối trả lời máy này.",
    DnsResult.NO_ANSWER: "Tên miền không có địa chỉ nào.",
    DnsResult.TIMEOUT: "Máy chủ DNS không trả lời.",
    DnsResult.UNREACHABLE: "Không liên lạc được với máy chủ DNS.",
    DnsResult.BAD_RESPONSE: "Máy chủ DNS trả lời không đúng cách.",
    DnsResult.ERROR: "Không tìm được địa chỉ của tên miền.",
}
"""Vietnamese text of every failing result code (``ok`` needs none)."""
