"""ping: ICMP echo rounds (icmplib), SmokePing style: several packets per round per target.

Measurement ``ping`` (tags ``target`` = address or name as configured, ``name`` = label, ``role`` =
gateway / isp_dns / public / datacentre / other): sent, received (count), loss_percent (0-100),
rtt_min_ms, rtt_avg_ms, rtt_median_ms, rtt_max_ms, jitter_ms (mean absolute difference of consecutive
RTTs), plus result/ok/reason.

The default gateway is found automatically (``gateway: true``) and pinged as the target
with role ``gateway``; when this machine has no default route the gateway point says ``no_route``.

Result codes: ok; unreachable (no reply at all); no_route (no default gateway: this PC has no network);
dns_error (name did not resolve); permission_error (no raw socket and unprivileged ICMP not allowed);
error (anything else). Partial loss is still ``ok``: read ``loss_percent``.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from enum import StrEnum
from typing import Annotated, ClassVar, Final, Literal

import msgspec
from icmplib import ICMPLibError, NameLookupError, SocketPermissionError, async_ping

from agent.net import netinfo
from agent.probes.base import CheckLine, Probe, ProbeConfig, result_fields
from agent.units import Duration
from agent.wire import Point
from agent.wire.spec import RESULT_FIELDS, MeasurementSpec, float_field, int_field, measurement
from common import vnformat

LOSS_WARN_PERCENT = 20.0  # loss at or above this is a warning in ``commune-agent check``
class PingResult(StrEnum):
    OK = "ok"
    UNREACHABLE = "unreachable"
    NO_ROUTE = "no_route"
    """(gateway point) this machine has no default route."""
    DNS_ERROR = "dns_error"
    PERMISSION_ERROR = "permission_error"
    ERROR = "error"

Role = Literal["gateway", "isp_dns", "public", "datacentre", "other"]
ROLE_LABELS: dict[str, str] = {
    "gateway": "Cổng mạng", "isp_dns": "Máy chủ DNS nhà mạng", "public": "Địa chỉ Internet",
    "datacentre": "Trung tâm dữ liệu tỉnh", "other": "Máy",
}
"""How ``commune-agent check`` names a ping target by its role (followed by the target's name)."""


def ping_label(tags: dict[str, str]) -> str:
    """``Cổng mạng 192.168.1.1``, ``Địa chỉ Internet cloudflare``, ``Máy loopback``: no brackets, no jargon."""
    role = tags.get("role", "other")
    name = tags.get("name", "")
    if role == "gateway":  # named "gateway" by the probe: show its address (none when there is no route)
        name = tags.get("target", "").replace("gateway", "")
    return f"{ROLE_LABELS.get(role, ROLE_LABELS['other'])} {name}".strip()


class PingTarget(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    host: Annotated[str, msgspec.Meta(min_length=1)]
    name: str = ""
    role: Role = "other"


class PingConfig(ProbeConfig, kw_only=True):
    interval: Duration = Duration(30)
    timeout: Duration = Duration(20)
    targets: list[PingTarget] = msgspec.field(default_factory=list)
    count: Annotated[int, msgspec.Meta(ge=1, le=100)] = 5
    packet_interval: Duration = Duration(0.2)
    packet_timeout: Duration = Duration(1.0)
    privileged: bool | None = None
    """None: raw sockets when running as root/Administrator, unprivileged ICMP otherwise."""
    gateway: bool = False
    """Also ping the default gateway, found from the routing table (role ``gateway``). Off by default so
    that a config which pings only local targets keeps doing so; site configs (and ``check``) turn it on."""


def median(values: list[float]) -> float:
    """As statistics.median (not imported: the agent stays small)."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def jitter(rtts: list[float]) -> float:
    if len(rtts) < 2:
        return 0.0
    return sum(abs(b - a) for a, b in itertools.pairwise(rtts)) / (len(rtts) - 1)


MEASUREMENTS: Final = (
    measurement("ping", "ping", {"target": "address or name as configured", "name": "label",
                                 "role": "gateway / isp_dns / public / datacentre / other"}, {
        "sent": int_field("packets"), "received": int_field("packets"),
        "loss_percent": float_field("%", "0-100"),
        **{k: float_field("ms", "only when a reply came") for k in (
            "rtt_min_ms", "rtt_median_ms", "rtt_avg_ms", "rtt_max_ms")},
        "jitter_ms": float_field("ms", "mean absolute difference of consecutive RTTs"),
        **RESULT_FIELDS,
    }),
)


class PingProbe(Probe[PingConfig]):
    name: ClassVar[str] = "ping"
    results: ClassVar[type[StrEnum] | None] = PingResult
    Config: ClassVar[type[ProbeConfig]] = PingConfig
    measurements: ClassVar[tuple[MeasurementSpec, ...]] = MEASUREMENTS

    def _privileged(self) -> bool:
        if self.config.privileged is not None:
            return self.config.privileged
        from agent.hostos import IS_WINDOWS, is_admin

        return True if IS_WINDOWS else is_admin()  # Windows: icmplib needs privileged mode

    def targets(self) -> tuple[list[PingTarget], list[Point]]:
        """Configured targets plus the auto-detected gateway; a ``no_route`` point when there is none."""
        targets = list(self.config.targets)
        extra: list[Point] = []
        if self.config.gateway and not any(t.role == "gateway" for t in targets):
            route = netinfo.default_route()
            if route is None or not route.gateway:
                reason = "no default route" if route is None else f"default route on {route.interface} has no gateway"
                extra.append(self.point("ping", {"sent": 0, "received": 0, "loss_percent": 100.0,
                                                 **result_fields(PingResult.NO_ROUTE, reason)},
                                        {"target": "gateway", "name": "gateway", "role": "gateway"}))
            else:
                targets.insert(0, PingTarget(host=route.gateway, name="gateway", role="gateway"))
        return targets, extra

    async def collect(self) -> list[Point]:
        targets, extra = self.targets()
        return extra + list(await asyncio.gather(*(self.ping_one(t) for t in targets)))

    @classmethod
    def check_lines(cls, points: list[Point]) -> list[CheckLine]:
        lines = []
        for p in points:
            if p.m != "ping":
                continue
            label = ping_label(p.tg)
            loss = vnformat.with_unit(float(p.f.get("loss_percent", 100.0)), "%", 0)
            rtt = vnformat.with_unit(float(p.f.get("rtt_median_ms", 0.0)), "ms")
            if p.f.get("result") == PingResult.NO_ROUTE:
                lines.append(CheckLine("Mạng", label, "fail",
                                       "Máy tính không có đường ra mạng: kiểm tra dây mạng hoặc Wi-Fi của máy."))
            elif p.f.get("ok") != 1:
                lines.append(CheckLine("Mạng", label, "fail", TEXTS.get(str(p.f.get("result")), TEXTS[PingResult.UNREACHABLE])))
            elif float(p.f.get("loss_percent", 0.0)) >= LOSS_WARN_PERCENT:
                lines.append(CheckLine("Mạng", label, "warn",
                                       f"Mất {loss} tín hiệu thử: mạng chập chờn, có thể chậm. Độ trễ {rtt}."))
            else:
                lines.append(CheckLine("Mạng", label, "ok", f"Trả lời tốt: mất {loss} tín hiệu thử, độ trễ {rtt}."))
        return lines

    async def ping_one(self, target: PingTarget) -> Point:
        cfg = self.config
        tags = {"target": target.host, "name": target.name or target.host, "role": target.role}
        ts = self.ctx.clock_ns()
        try:
            host = await async_ping(
                target.host, count=cfg.count, interval=cfg.packet_interval, timeout=cfg.packet_timeout,
                privileged=self._privileged(),
            )
        except NameLookupError:
            return self.point("ping", {"sent": 0, "received": 0, "loss_percent": 100.0,
                                       **result_fields(PingResult.DNS_ERROR, f"cannot resolve {target.host}")}, tags, ts)
        except SocketPermissionError as exc:
            return self.point("ping", {"sent": 0, "received": 0, "loss_percent": 100.0,
                                       **result_fields(PingResult.PERMISSION_ERROR, str(exc))}, tags, ts)
        except (ICMPLibError, OSError) as exc:
            return self.point("ping", {"sent": 0, "received": 0, "loss_percent": 100.0,
                                       **result_fields(PingResult.ERROR, f"{type(exc).__name__}: {exc}")}, tags, ts)
        rtts = list(host.rtts)
        fields: dict[str, float | int | str | bool | None] = {
            "sent": int(host.packets_sent),
            "received": int(host.packets_received),
            "loss_percent": float(host.packet_loss) * 100.0,
        }
        if rtts:
            fields.update(
                rtt_min_ms=float(min(rtts)), rtt_avg_ms=float(math.fsum(rtts) / len(rtts)),
                rtt_median_ms=float(median(rtts)), rtt_max_ms=float(max(rtts)),
                jitter_ms=float(jitter(rtts)),
            )
            fields.update(result_fields(PingResult.OK))
        else:
            fields.update(result_fields(PingResult.UNREACHABLE, f"no reply from {target.host} to {host.packets_sent} packets"))
        return self.point("ping", fields, tags, ts)


TEXTS: dict[str, str] = {
    PingResult.UNREACHABLE: "Không trả lời tín hiệu thử (ping).",
    PingResult.NO_ROUTE: "Máy tính không có đường ra mạng: kiểm tra dây mạng hoặc Wi-Fi của máy.",
    PingResult.DNS_ERROR: "Không tìm được địa chỉ của máy này theo tên (lỗi DNS).",
    PingResult.PERMISSION_ERROR: "Chưa gửi được tín hiệu thử: cần chạy chương trình với quyền quản trị.",
    PingResult.ERROR: "Không gửi được tín hiệu thử (ping).",
}
"""Vietnamese text of every failing result code (``ok`` needs none)."""
