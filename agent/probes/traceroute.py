"""traceroute: when a target does not answer ping, find where the path stops — on the LAN (not even
the first hop/gateway answers), at the first ISP hop (the gateway answers, nothing after it), or
beyond (the ISP's routers answer, the target does not). Scapy is imported only then, in a thread, so
an agent whose targets answer never pays its memory (~25 MB).

Measurement ``traceroute`` (tags ``target``, ``name``): traced (int 1/0: a trace was needed),
hops_answered (int), last_ttl (int), last_hop (string, address of the farthest hop that answered),
stopped_at (string: reached / lan / first_isp_hop / beyond), plus result/ok/reason.

Result codes: ok (the target answers); stopped_lan; stopped_first_isp_hop; stopped_beyond;
no_route (this PC has no default route); permission_error (raw sockets need root/Administrator); error.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Final

import msgspec
from icmplib import ICMPLibError, async_ping

from agent.net import netinfo
from agent.probes.base import CheckLine, Probe, ProbeConfig, parse_result, result_fields
from agent.units import Duration
from agent.wire import Point
from agent.wire.spec import RESULT_FIELDS, MeasurementSpec, int_field, measurement, str_field


class TracerouteResult(StrEnum):
    OK = "ok"
    STOPPED_LAN = "stopped_lan"
    STOPPED_FIRST_ISP_HOP = "stopped_first_isp_hop"
    STOPPED_BEYOND = "stopped_beyond"
    NO_ROUTE = "no_route"
    PERMISSION_ERROR = "permission_error"
    ERROR = "error"

class TraceTarget(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    host: Annotated[str, msgspec.Meta(min_length=1)]
    name: str = ""


class TracerouteConfig(ProbeConfig, kw_only=True):
    interval: Duration = Duration(300)
    timeout: Duration = Duration(30)
    targets: list[TraceTarget] = msgspec.field(default_factory=list)
    always: bool = False
    """Trace even when the target answers ping (default: only on failure)."""
    max_hops: Annotated[int, msgspec.Meta(ge=2, le=30)] = 12
    hop_timeout: Duration = Duration(2)
    ping_count: Annotated[int, msgspec.Meta(ge=1, le=10)] = 3


@dataclass(frozen=True)
class Hop:
    ttl: int
    address: str
    reached: bool  # the target itself answered (echo reply or port unreachable from it)


def classify(hops: list[Hop]) -> str:
    """reached / lan / first_isp_hop / beyond from the hops that answered."""
    if any(h.reached for h in hops):
        return "reached"
    if not hops:
        return "lan"  # not even the first hop (the site's gateway) answered
    first = min(hops, key=lambda h: h.ttl).address
    # The gateway may answer every TTL with "network unreachable" when its uplink is gone: only a
    # different address beyond it proves the ISP forwarded the packet.
    if min(h.ttl for h in hops) == 1 and all(h.address == first for h in hops):
        return "first_isp_hop"
    return "beyond"


def trace_scapy(target: str, max_hops: int, timeout: float) -> list[Hop]:
    """ICMP echo with TTL 1..max_hops, all sent at once (blocking: run it in a thread).

    Routers rate-limit the ICMP errors they send (Linux: about one a second per destination after a
    small burst), and a failing site has usually just spent that budget on pings; so when nothing
    answered, the first hops are asked once more, after the timeout has let the budget refill.
    """
    from scapy.layers.inet import ICMP, IP  # lazy: heavy
    from scapy.sendrecv import sr

    hops: dict[int, Hop] = {}
    for last_ttl in (max_hops, min(3, max_hops)):
        answered, _ = sr(IP(dst=target, ttl=(1, last_ttl)) / ICMP(id=0x4353), timeout=timeout, verbose=0)
        for sent, received in answered:
            ttl = int(sent[IP].ttl)
            src = str(received[IP].src)
            icmp: Any = received.getlayer(ICMP)
            reached = src == target or (icmp is not None and int(icmp.type) == 0)
            hops.setdefault(ttl, Hop(ttl, src, reached))
        if hops:
            break
    return [hops[k] for k in sorted(hops)]


_CODES = {"lan": TracerouteResult.STOPPED_LAN, "first_isp_hop": TracerouteResult.STOPPED_FIRST_ISP_HOP,
          "beyond": TracerouteResult.STOPPED_BEYOND}
_REASONS = {
    "lan": "no hop answered: the path stops on the LAN (gateway or local link)",
    "first_isp_hop": "only the gateway answered: the path stops at the first ISP hop",
    "beyond": "the ISP's routers answered but not the target: the path stops beyond the ISP",
}


MEASUREMENTS: Final = (
    measurement("traceroute", "traceroute", {"target": "address or name", "name": "label"}, {
        "traced": int_field("1/0", "1 when a trace was needed"),
        "hops_answered": int_field("count"),
        "last_ttl": int_field("", "TTL of the farthest answering hop"),
        "last_hop": str_field("its address", max_length=64),
        "stopped_at": str_field("reached / lan / first_isp_hop / beyond", max_length=32),
        **RESULT_FIELDS,
    }),
)


class TracerouteProbe(Probe[TracerouteConfig]):
    name: ClassVar[str] = "traceroute"
    results: ClassVar[type[StrEnum] | None] = TracerouteResult
    Config: ClassVar[type[ProbeConfig]] = TracerouteConfig
    measurements: ClassVar[tuple[MeasurementSpec, ...]] = MEASUREMENTS

    async def collect(self) -> list[Point]:
        return list(await asyncio.gather(*(self._one(t) for t in self.config.targets)))

    async def _one(self, t: TraceTarget) -> Point:
        ts = self.ctx.clock_ns()
        tags = {"target": t.host, "name": t.name or t.host}
        cfg = self.config
        if not cfg.always and await self._answers(t.host):
            return self.point("traceroute", {"traced": 0, "stopped_at": "reached", **result_fields(TracerouteResult.OK)},
                              tags, ts)
        if netinfo.default_route() is None and not netinfo.source_address_for(t.host):
            return self.point("traceroute", {"traced": 0, "hops_answered": 0, "stopped_at": "lan",
                                             **result_fields(TracerouteResult.NO_ROUTE, "no default route")}, tags, ts)
        try:
            hops = await asyncio.to_thread(trace_scapy, t.host, cfg.max_hops, float(cfg.hop_timeout))
        except PermissionError as exc:
            return self.point("traceroute", {"traced": 1, **result_fields(TracerouteResult.PERMISSION_ERROR, str(exc))}, tags, ts)
        except (OSError, ValueError, ImportError) as exc:
            return self.point("traceroute", {"traced": 1, **result_fields(TracerouteResult.ERROR, f"{type(exc).__name__}: {exc}")},
                              tags, ts)
        where = classify(hops)
        if where == "lan":
            # Silence may be the gateway's ICMP-error rate limit (spent by the very traffic that failed):
            # an echo reply from the gateway proves the LAN is fine and the path stops right after it.
            route = netinfo.default_route()
            if route is not None and route.gateway and await self._answers(route.gateway):
                hops = [Hop(1, route.gateway, False)]
                where = "first_isp_hop"
        last = max(hops, key=lambda h: h.ttl) if hops else None
        fields: dict[str, float | int | str | bool | None] = {
            "traced": 1, "hops_answered": len(hops), "stopped_at": where,
            "last_ttl": last.ttl if last else 0, "last_hop": last.address if last else None,
        }
        if where == "reached":
            fields.update(result_fields(TracerouteResult.OK))
        else:
            fields.update(result_fields(_CODES[where], _REASONS[where]))
        return self.point("traceroute", fields, tags, ts)

    async def _answers(self, host: str) -> bool:
        try:
            reply = await async_ping(host, count=self.config.ping_count, interval=0.2, timeout=1.0, privileged=True)
        except (ICMPLibError, OSError):
            return False
        return bool(reply.packets_received)

    @classmethod
    def check_lines(cls, points: list[Point]) -> list[CheckLine]:
        out = []
        for p in points:
            if p.m != "traceroute":
                continue
            target = f"Dò đường tới {p.tg.get('name', '')}"
            if p.f.get("ok") == 1:
                out.append(CheckLine("Mạng", target, "ok", ""))
            else:
                result = str(p.f.get("result", ""))
                known = parse_result(TracerouteResult, result)
                out.append(CheckLine("Mạng", target, "fail", TEXTS[known] if known else TEXTS[TracerouteResult.ERROR]))
        return out


TEXTS: dict[TracerouteResult, str] = {
    TracerouteResult.STOPPED_LAN: "Đường đi dừng ngay trong mạng nội bộ: cổng mạng không trả lời.",
    TracerouteResult.STOPPED_FIRST_ISP_HOP: "Đường đi dừng sau cổng mạng: đường truyền của nhà mạng có sự cố.",
    TracerouteResult.STOPPED_BEYOND: "Nhà mạng vẫn chuyển tiếp nhưng đích không trả lời: sự cố nằm ngoài nhà mạng.",
    TracerouteResult.NO_ROUTE: "Máy tính không có đường ra mạng.",
    TracerouteResult.PERMISSION_ERROR: "Không dò được đường: cần chạy chương trình với quyền quản trị.",
    TracerouteResult.ERROR: "Không dò được đường.",
}
"""Vietnamese text of every failing result code (``ok`` needs none)."""
