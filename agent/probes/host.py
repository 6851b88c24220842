"""host: CPU, memory, disks, uptime, network interfaces (psutil).

Measurements
- ``host``: cpu_percent, load1/load5/load15 (not on Windows), mem_total_bytes/mem_available_bytes/
  mem_used_bytes, mem_percent, swap_percent, uptime_s, boot_time_s (unix s), procs.
- ``host_disk`` (tag ``path``): total_bytes/used_bytes/free_bytes, percent. One mount point per device:
  bind mounts and a device mounted twice (``/run/netns`` duplicating ``/``) are reported once.
- ``host_net`` (tag ``interface``): up (1/0), speed_mbps, bytes_sent/bytes_recv, packets_sent/packets_recv,
  errin/errout/dropin/dropout (counters since boot), rx_bps/tx_bps (bits/s since the previous round).
  Virtual interfaces (loopback, ifb*, veth*, docker*, br-*, virbr*...) and, on Linux, bridges without
  carrier are left out unless listed in ``interfaces``.
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Final

import msgspec
import psutil

from agent.probes.base import CheckLine, Probe, ProbeConfig
from agent.probes.host_check import check_lines
from agent.units import Duration
from agent.wire import Point
from agent.wire.spec import MeasurementSpec, float_field, int_field, measurement, str_field

DEFAULT_IGNORED_FS = ["tmpfs", "devtmpfs", "squashfs", "overlay", "proc", "sysfs", "iso9660", "udf", "nsfs"]
DEFAULT_IGNORED_INTERFACES = ["lo", "Loopback*", "ifb*", "veth*", "docker*", "br-*", "virbr*", "vnet*", "dummy*"]
SYS_CLASS_NET = Path("/sys/class/net")
CPU_MIN_WINDOW_S = 0.5
"""The first round waits until the CPU has been watched this long (a one-shot ``check`` runs right after the
probe starts: over a few milliseconds, one busy core reads as 100 %)."""


class HostConfig(ProbeConfig, kw_only=True):
    interval: Duration = Duration(30)
    timeout: Duration = Duration(10)
    disks: list[str] = msgspec.field(default_factory=list)
    """Mount points to report; empty = every physical partition."""
    ignore_fs: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_IGNORED_FS))
    interfaces: list[str] = msgspec.field(default_factory=list)
    """Interfaces to report; empty = every real one (see ``ignore_interfaces``)."""
    ignore_interfaces: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_IGNORED_INTERFACES))
    """Name patterns of virtual interfaces left out when ``interfaces`` is empty."""
    ignore_bridges_without_carrier: bool = True
    """Linux: leave out bridges with no cable/port up (an unused virtual switch is not a NIC)."""


MEASUREMENTS: Final = (
    measurement("host", "host", {}, {
        "cpu_percent": float_field("%", "of all cores since the previous round"),
        "load1": float_field("", "1-minute load average (not on Windows)"),
        "load5": float_field("", "5-minute load average (not on Windows)"),
        "load15": float_field("", "15-minute load average (not on Windows)"),
        "mem_total_bytes": int_field("bytes"), "mem_available_bytes": int_field("bytes"),
        "mem_used_bytes": int_field("bytes"),
        "mem_percent": float_field("%"), "swap_percent": float_field("%"),
        "uptime_s": float_field("s"),
        "boot_time_s": int_field("unix s", "a change = a reboot"),
        "procs": int_field("count"),
    }),
    measurement("host_disk", "host", {"path": "mount point"}, {
        "total_bytes": int_field("bytes"), "used_bytes": int_field("bytes"), "free_bytes": int_field("bytes"),
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
                 monotonic: Callable[[], float] = time.monotonic, sys_class_net: Path = SYS_CLASS_NET) -> None:
        """``source``: the psutil module (or an object with the same functions); ``monotonic``: the clock for
        network rates; ``sys_class_net``: Linux's interface directory. Seams for tests (counter resets and
        bridges cannot be produced on demand)."""
        super().__init__(config, ctx)  # type: ignore[arg-type]
        self._ps = source
        self._monotonic = monotonic
        self._sys_net = sys_class_net
        self._ps.cpu_percent(interval=None)  # prime: the first reading is relative to this call
        self._cpu_since: float | None = time.monotonic()
        self._last_net: dict[str, tuple[float, int, int]] = {}

    async def collect(self) -> list[Point]:
        if self._cpu_since is not None:
            await asyncio.sleep(max(0.0, CPU_MIN_WINDOW_S - (time.monotonic() - self._cpu_since)))
            self._cpu_since = None
        now = self.ctx.clock_ns()
        return [self._host(now), *self._disks(now), *self._nets(now)]

    def _host(self, now: int) -> Point:
        vm = self._ps.virtual_memory()
        boot = self._ps.boot_time()
        fields: dict[str, float | int | str | bool | None] = {
            "cpu_percent": float(self._ps.cpu_percent(interval=None)),
            "mem_total_bytes": int(vm.total),
            "mem_available_bytes": int(vm.available),
            "mem_used_bytes": int(vm.total - vm.available),
            "mem_percent": float(vm.percent),
            "swap_percent": float(self._ps.swap_memory().percent),
            "uptime_s": float(now / 1e9 - boot),
            "boot_time_s": int(boot),
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
            by_device: dict[str, str] = {}  # one mount point per device: the shortest (``/``, not ``/run/netns``)
            for part in self._ps.disk_partitions(all=False):
                if part.fstype in cfg.ignore_fs:
                    continue
                key = part.device if part.device not in ("", "none") else part.mountpoint
                if key not in by_device or len(part.mountpoint) < len(by_device[key]):
                    by_device[key] = part.mountpoint
            paths = list(dict.fromkeys(by_device.values()))
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
                    {"total_bytes": int(usage.total), "used_bytes": int(usage.used), "free_bytes": int(usage.free),
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
            if not wanted and self._virtual(name):
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

    def _virtual(self, name: str) -> bool:
        if any(fnmatch.fnmatchcase(name, pat) for pat in self.config.ignore_interfaces):
            return True
        sysdir = self._sys_net / name
        if self.config.ignore_bridges_without_carrier and (sysdir / "bridge").is_dir():
            try:
                return (sysdir / "carrier").read_text(encoding="ascii").strip() != "1"
            except OSError:  # reading carrier of a down interface fails with EINVAL
                return True
        return False

    @classmethod
    def check_lines(cls, points: list[Point]) -> list[CheckLine]:
        return check_lines(points)
