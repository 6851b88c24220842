"""host: CPU, memory, disks, uptime, network interfaces (psutil).

Measurements
- ``host``: cpu_percent, load1/load5/load15 (not on Windows), mem_total/mem_available/mem_used (bytes),
  mem_percent, swap_percent, uptime_s, boot_time (unix s), procs.
- ``host_disk`` (tag ``path``): total/used/free (bytes), percent.
- ``host_net`` (tag ``interface``): up (1/0), speed_mbps, bytes_sent/bytes_recv, packets_sent/packets_recv,
  errin/errout/dropin/dropout (counters since boot), rx_bps/tx_bps (bits/s since the previous round).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, ClassVar, Final

import msgspec
import psutil

from agent.probes.base import Probe, ProbeConfig
from agent.units import Duration
from agent.wire import Point
from agent.wire.spec import MeasurementSpec, float_field, int_field, measurement, str_field

DEFAULT_IGNORED_FS = ["tmpfs", "devtmpfs", "squashfs", "overlay", "proc", "sysfs", "iso9660", "udf"]


class HostConfig(ProbeConfig, kw_only=True):
    interval: Duration = Duration(30)
    timeout: Duration = Duration(10)
    disks: list[str] = msgspec.field(default_factory=list)
    """Mount points to report; empty = every physical partition."""
    ignore_fs: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_IGNORED_FS))
    interfaces: list[str] = msgspec.field(default_factory=list)
    """Interfaces to report; empty = all but loopback."""


MEASUREMENTS: Final = (
    measurement("host", "host", {}, {
        "cpu_percent": float_field("%", "of all cores since the previous round"),
        "load1": float_field("", "1-minute load average (not on Windows)"),
        "load5": float_field("", "5-minute load average (not on Windows)"),
        "load15": float_field("", "15-minute load average (not on Windows)"),
        "mem_total": int_field("bytes"), "mem_available": int_field("bytes"), "mem_used": int_field("bytes"),
        "mem_percent": float_field("%"), "swap_percent": float_field("%"),
        "uptime_s": float_field("s"),
        "boot_time": int_field("unix s", "a change = a reboot"),
        "procs": int_field("count"),
    }),
    measurement("host_disk", "host", {"path": "mount point"}, {
        "total": int_field("bytes"), "used": int_field("bytes"), "free": int_field("bytes"),
        "percent": float_field("%"),
        "error": str_field("when the mount cannot be read"),
    }),
    measurement("host_net", "host", {"interface": "network interface"}, {
        "up": int_field("1/0"),
        "speed_mbps": int_field("Mbit/s", "0 = unknown"),
        **{k: int_field("count", "counter since boot") for k in (
            "bytes_sent", "bytes_recv", "packets_sent", "packets_recv", "errin", "errout", "dropin", "dropout")},
        "tx_bps": float_field("bit/s", "since the previous round (none after a counter reset)"),
        "rx_bps": float_field("bit/s", "since the previous round (none after a counter reset)"),
    }),
)


class HostProbe(Probe[HostConfig]):
    name: ClassVar[str] = "host"
    Config: ClassVar[type[ProbeConfig]] = HostConfig
    measurements: ClassVar[tuple[MeasurementSpec, ...]] = MEASUREMENTS

    def __init__(self, config: HostConfig, ctx: object, source: Any = psutil,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        """``source``: the psutil module (or an object with the same functions); ``monotonic``: the clock for
        network rates. Both are seams for tests (counter resets cannot be produced on demand)."""
        super().__init__(config, ctx)  # type: ignore[arg-type]
        self._ps = source
        self._monotonic = monotonic
        self._ps.cpu_percent(interval=None)  # prime: the first reading is relative to this call
        self._last_net: dict[str, tuple[float, int, int]] = {}

    async def collect(self) -> list[Point]:
        now = self.ctx.clock_ns()
        return [self._host(now), *self._disks(now), *self._nets(now)]

    def _host(self, now: int) -> Point:
        vm = self._ps.virtual_memory()
        boot = self._ps.boot_time()
        fields: dict[str, float | int | str | bool | None] = {
            "cpu_percent": float(self._ps.cpu_percent(interval=None)),
            "mem_total": int(vm.total),
            "mem_available": int(vm.available),
            "mem_used": int(vm.total - vm.available),
            "mem_percent": float(vm.percent),
            "swap_percent": float(self._ps.swap_memory().percent),
            "uptime_s": float(now / 1e9 - boot),
            "boot_time": int(boot),
            "procs": len(self._ps.pids()),
        }
        if hasattr(os, "getloadavg"):
            l1, l5, l15 = os.getloadavg()
            fields.update(load1=float(l1), load5=float(l5), load15=float(l15))
        return self.point("host", fields, ts=now)

    def _disks(self, now: int) -> list[Point]:
        cfg = self.config
        if cfg.disks:
            paths = cfg.disks
        else:
            seen: set[str] = set()
            paths = []
            for part in self._ps.disk_partitions(all=False):
                if part.fstype in cfg.ignore_fs or part.mountpoint in seen:
                    continue
                seen.add(part.mountpoint)
                paths.append(part.mountpoint)
        points = []
        for path in paths:
            try:
                usage = self._ps.disk_usage(path)
            except OSError as exc:
                points.append(self.point("host_disk", {"error": str(exc)}, {"path": path}, ts=now))
                continue
            points.append(
                self.point(
                    "host_disk",
                    {"total": int(usage.total), "used": int(usage.used), "free": int(usage.free),
                     "percent": float(usage.percent)},
                    {"path": path},
                    ts=now,
                )
            )
        return points

    def _nets(self, now: int) -> list[Point]:
        stats = self._ps.net_if_stats()
        counters = self._ps.net_io_counters(pernic=True)
        wanted = set(self.config.interfaces)
        points = []
        mono = self._monotonic()
        for name, io in counters.items():
            if wanted and name not in wanted:
                continue
            if not wanted and (name == "lo" or name.lower().startswith("loopback")):
                continue
            st = stats.get(name)
            fields: dict[str, float | int | str | bool | None] = {
                "up": 1 if st is not None and st.isup else 0,
                "speed_mbps": int(st.speed) if st is not None else None,
                "bytes_sent": int(io.bytes_sent), "bytes_recv": int(io.bytes_recv),
                "packets_sent": int(io.packets_sent), "packets_recv": int(io.packets_recv),
                "errin": int(io.errin), "errout": int(io.errout),
                "dropin": int(io.dropin), "dropout": int(io.dropout),
            }
            prev = self._last_net.get(name)
            if prev is not None:
                dt = mono - prev[0]
                d_tx, d_rx = io.bytes_sent - prev[1], io.bytes_recv - prev[2]
                if dt > 0 and d_tx >= 0 and d_rx >= 0:  # a counter reset gives no rate, never a negative one
                    fields["tx_bps"] = d_tx * 8 / dt
                    fields["rx_bps"] = d_rx * 8 / dt
            self._last_net[name] = (mono, io.bytes_sent, io.bytes_recv)
            points.append(self.point("host_net", fields, {"interface": name}, ts=now))
        return points
