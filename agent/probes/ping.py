"""ping: ICMP echo rounds (icmplib), SmokePing style: several packets per round per target.

Measurement ``ping`` (tags ``target`` = address or name as configured, ``name`` = label):
sent, received (count), loss_percent (0-100), rtt_min_ms, rtt_avg_ms, rtt_median_ms, rtt_max_ms,
jitter_ms (mean absolute difference of consecutive RTTs), plus result/ok/reason.

Result codes: ok; unreachable (no reply at all); dns_error (name did not resolve);
permission_error (no raw socket and unprivileged ICMP not allowed); error (anything else).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import statistics
from typing import Annotated, ClassVar

import msgspec
from icmplib import ICMPLibError, NameLookupError, SocketPermissionError, async_ping

from agent.probes.base import RESULT_OK, Probe, ProbeConfig, result_fields
from agent.units import Duration
from agent.wire import Point


class PingTarget(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    host: Annotated[str, msgspec.Meta(min_length=1)]
    name: str = ""


class PingConfig(ProbeConfig, kw_only=True):
    interval: Duration = Duration(30)
    timeout: Duration = Duration(20)
    targets: list[PingTarget] = msgspec.field(default_factory=list)
    count: Annotated[int, msgspec.Meta(ge=1, le=100)] = 5
    packet_interval: Duration = Duration(0.2)
    packet_timeout: Duration = Duration(1.0)
    privileged: bool | None = None
    """None: raw sockets when running as root/Administrator, unprivileged ICMP otherwise."""


def jitter(rtts: list[float]) -> float:
    if len(rtts) < 2:
        return 0.0
    return sum(abs(b - a) for a, b in itertools.pairwise(rtts)) / (len(rtts) - 1)


class PingProbe(Probe[PingConfig]):
    name: ClassVar[str] = "ping"
    Config: ClassVar[type[ProbeConfig]] = PingConfig

    def _privileged(self) -> bool:
        if self.config.privileged is not None:
            return self.config.privileged
        geteuid = getattr(os, "geteuid", None)
        return geteuid() == 0 if geteuid else True  # Windows: icmplib needs privileged mode

    async def collect(self) -> list[Point]:
        return list(await asyncio.gather(*(self.ping_one(t) for t in self.config.targets)))

    async def ping_one(self, target: PingTarget) -> Point:
        cfg = self.config
        tags = {"target": target.host, "name": target.name or target.host}
        ts = self.ctx.clock_ns()
        try:
            host = await async_ping(
                target.host, count=cfg.count, interval=cfg.packet_interval, timeout=cfg.packet_timeout,
                privileged=self._privileged(),
            )
        except NameLookupError:
            return self.point("ping", {"sent": 0, "received": 0, "loss_percent": 100.0,
                                       **result_fields("dns_error", f"cannot resolve {target.host}")}, tags, ts)
        except SocketPermissionError as exc:
            return self.point("ping", result_fields("permission_error", str(exc)), tags, ts)
        except (ICMPLibError, OSError) as exc:
            return self.point("ping", {"sent": 0, "received": 0, "loss_percent": 100.0,
                                       **result_fields("error", f"{type(exc).__name__}: {exc}")}, tags, ts)
        rtts = list(host.rtts)
        fields: dict[str, float | int | str | bool | None] = {
            "sent": int(host.packets_sent),
            "received": int(host.packets_received),
            "loss_percent": float(host.packet_loss) * 100.0,
        }
        if rtts:
            fields.update(
                rtt_min_ms=float(min(rtts)), rtt_avg_ms=float(statistics.fmean(rtts)),
                rtt_median_ms=float(statistics.median(rtts)), rtt_max_ms=float(max(rtts)),
                jitter_ms=float(jitter(rtts)),
            )
            fields.update(result_fields(RESULT_OK))
        else:
            fields.update(result_fields("unreachable", f"no reply from {target.host} to {host.packets_sent} packets"))
        return self.point("ping", fields, tags, ts)
