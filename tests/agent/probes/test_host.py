"""host probe: disk, memory, CPU and uptime from this machine's real psutil (checked against the kernel's own
numbers), and network rates from scripted interface counters (a counter reset cannot be made on demand)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

import psutil

from agent.probes.base import ProbeContext
from agent.probes.host import HostConfig, HostProbe
from agent.wire import Point
from tests.support.schema import conforming


def ctx_at(unix_s: float) -> ProbeContext:
    return ProbeContext(agent_id="pc-test", clock_ns=lambda: int(unix_s * 1e9))


def only(points: list[Point], m: str, **tags: str) -> Point:
    (pt,) = [p for p in points if p.m == m and all(p.tg.get(k) == v for k, v in tags.items())]
    return pt


async def test_disk_values_match_the_filesystem(tmp_path: Path) -> None:
    probe = HostProbe(HostConfig(disks=[str(tmp_path), "/nonexistent-mount"], interfaces=["none"]),
                      ProbeContext(agent_id="pc-test"))
    points = conforming(await probe.collect())
    disk = only(points, "host_disk", path=str(tmp_path)).f
    st = os.statvfs(tmp_path)
    assert disk["total_bytes"] == st.f_blocks * st.f_frsize
    assert 0 < int(disk["used_bytes"]) <= int(disk["total_bytes"])
    assert 0 < int(disk["free_bytes"]) <= int(disk["total_bytes"]) - int(disk["used_bytes"])  # reserved blocks: neither
    used, free = int(disk["used_bytes"]), int(disk["free_bytes"])
    assert float(disk["percent"]) == round(100.0 * used / (used + free), 1)
    missing = only(points, "host_disk", path="/nonexistent-mount").f
    assert missing == {"error": "[Errno 2] No such file or directory: '/nonexistent-mount'"}


async def test_default_disks_are_physical_partitions_only() -> None:
    probe = HostProbe(HostConfig(interfaces=["none"]), ProbeContext(agent_id="pc-test"))
    paths = {p.tg["path"] for p in conforming(await probe.collect()) if p.m == "host_disk"}
    parts = [p for p in psutil.disk_partitions(all=False) if p.fstype not in HostConfig().ignore_fs]
    assert paths <= {p.mountpoint for p in parts}
    assert len(paths) == len({p.device for p in parts})  # one mount point per device: bind mounts left out


async def test_uptime_cpu_and_memory() -> None:
    boot = psutil.boot_time()
    probe = HostProbe(HostConfig(disks=[], interfaces=["none"]), ctx_at(boot + 3600.5))
    host = only(conforming(await probe.collect()), "host")
    assert host.t == int((boot + 3600.5) * 1e9)
    assert host.f["boot_time_s"] == int(boot)
    assert float(host.f["uptime_s"]) == 3600.5  # measured against the probe's clock, like the point's time
    assert 0.0 <= float(host.f["cpu_percent"]) <= 100.0
    assert host.f["mem_total_bytes"] == psutil.virtual_memory().total
    assert host.f["mem_used_bytes"] == int(host.f["mem_total_bytes"]) - int(host.f["mem_available_bytes"])
    assert not {"mem_total", "mem_available", "mem_used", "boot_time"} & set(host.f)
    assert 0.0 <= float(host.f["mem_percent"]) <= 100.0
    assert int(host.f["procs"]) > 1
    assert {"load1", "load5", "load15"} <= set(host.f)


def _kernel_uptime() -> float:
    return float(Path("/proc/uptime").read_text(encoding="ascii").split()[0])


async def test_real_uptime_agrees_with_the_kernel() -> None:
    probe = HostProbe(HostConfig(disks=[], interfaces=["none"]), ProbeContext(agent_id="pc-test"))
    host = only(conforming(await probe.collect()), "host")
    kernel_uptime = _kernel_uptime()
    # boot_time is rounded by psutil and the two reads are not simultaneous: agree within a minute
    assert abs(float(host.f["uptime_s"]) - kernel_uptime) < 60.0


# --- network rates from scripted counters ---------------------------------------------------------------


class NetIO(NamedTuple):
    bytes_sent: int
    bytes_recv: int
    packets_sent: int = 0
    packets_recv: int = 0
    errin: int = 0
    errout: int = 0
    dropin: int = 0
    dropout: int = 0


class NicStats(NamedTuple):
    isup: bool
    speed: int


class ScriptedCounters:
    """psutil with interface counters and a monotonic clock set by the test; everything else is the real one."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.counters: dict[str, NetIO] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(psutil, name)

    def net_io_counters(self, pernic: bool = False) -> dict[str, NetIO]:
        assert pernic
        return dict(self.counters)

    def net_if_stats(self) -> dict[str, NicStats]:
        return {name: NicStats(isup=name != "wlan0", speed=1000) for name in self.counters}

    def monotonic(self) -> float:
        return self.now


async def round_(probe: HostProbe, src: ScriptedCounters, at: float, **counters: tuple[int, int]) -> dict[str, Any]:
    src.now = at
    src.counters = {name: NetIO(*c) for name, c in counters.items()}
    return {p.tg["interface"]: p.f for p in conforming(await probe.collect()) if p.m == "host_net"}


async def test_network_rates_and_counter_reset_guard() -> None:
    src = ScriptedCounters()
    probe = HostProbe(HostConfig(disks=[]), ProbeContext(agent_id="pc-test"), source=src, monotonic=src.monotonic)

    first = await round_(probe, src, 100.0, eth0=(1000, 2000), lo=(5, 5))
    assert set(first) == {"eth0"}  # loopback is left out by default
    assert "tx_bps" not in first["eth0"] and "rx_bps" not in first["eth0"]  # no previous round: no rate
    assert (first["eth0"]["up"], first["eth0"]["speed_mbps"], first["eth0"]["bytes_sent"]) == (1, 1000, 1000)

    second = await round_(probe, src, 110.0, eth0=(1000 + 1250, 2000 + 12_500))
    assert (second["eth0"]["tx_bps"], second["eth0"]["rx_bps"]) == (1000.0, 10_000.0)  # bytes * 8 / 10 s

    # the interface was reset (driver reload, reboot of a USB NIC): counters went backwards
    reset = await round_(probe, src, 120.0, eth0=(100, 50))
    assert "tx_bps" not in reset["eth0"] and "rx_bps" not in reset["eth0"]
    assert (reset["eth0"]["bytes_sent"], reset["eth0"]["bytes_recv"]) == (100, 50)

    # only one direction went backwards: still no rate for either (the pair is from one reading)
    half = await round_(probe, src, 130.0, eth0=(2600, 40))
    assert "tx_bps" not in half["eth0"] and "rx_bps" not in half["eth0"]

    after = await round_(probe, src, 140.0, eth0=(2600 + 2500, 40))
    assert (after["eth0"]["tx_bps"], after["eth0"]["rx_bps"]) == (2000.0, 0.0)  # rates resume from the new base

    same_instant = await round_(probe, src, 140.0, eth0=(9000, 9000))
    assert "tx_bps" not in same_instant["eth0"]  # no elapsed time: no division by zero, no huge rate


async def test_interface_selection_and_link_state() -> None:
    src = ScriptedCounters()
    probe = HostProbe(HostConfig(disks=[], interfaces=["wlan0", "lo"]), ProbeContext(agent_id="pc-test"),
                      source=src, monotonic=src.monotonic)
    nets = await round_(probe, src, 1.0, eth0=(1, 1), wlan0=(2, 3), lo=(4, 4))
    assert set(nets) == {"wlan0", "lo"}  # an explicit list is honoured, loopback included when asked for
    assert nets["wlan0"]["up"] == 0
    assert (nets["wlan0"]["bytes_sent"], nets["wlan0"]["bytes_recv"]) == (2, 3)


# --- what is not a real NIC or disk ---------------------------------------------------------------------------


async def test_virtual_interfaces_and_idle_bridges_are_left_out(tmp_path: Path) -> None:
    src = ScriptedCounters()
    for name, carrier in (("br0", "1"), ("br-lan", "0"), ("virbr9", None)):  # a sysfs tree: bridges and carriers
        (tmp_path / name / "bridge").mkdir(parents=True)
        if carrier is not None:
            (tmp_path / name / "carrier").write_text(carrier + "\n", encoding="ascii")
    (tmp_path / "idle0" / "bridge").mkdir(parents=True)  # a bridge whose carrier cannot be read (link down)
    (tmp_path / "eth0").mkdir()
    probe = HostProbe(HostConfig(disks=[]), ProbeContext(agent_id="pc-test"), source=src, monotonic=src.monotonic,
                      sys_class_net=tmp_path)
    nets = await round_(probe, src, 1.0, eth0=(1, 1), lo=(1, 1), ifb0=(1, 1), veth12ab=(1, 1), docker0=(1, 1),
                        br0=(1, 1), idle0=(1, 1), wlan0=(1, 1))
    assert set(nets) == {"eth0", "br0", "wlan0"}  # a bridge with carrier is the PC's real uplink (kept)

    keep_all = HostProbe(HostConfig(disks=[], ignore_interfaces=[], ignore_bridges_without_carrier=False),
                         ProbeContext(agent_id="pc-test"), source=src, monotonic=src.monotonic, sys_class_net=tmp_path)
    assert set(await round_(keep_all, src, 2.0, ifb0=(1, 1), idle0=(1, 1))) == {"ifb0", "idle0"}


class Partition(NamedTuple):
    device: str
    mountpoint: str
    fstype: str
    opts: str = "rw"


class ScriptedMounts(ScriptedCounters):
    """psutil with a scripted mount table; disk usage of every mount point is read from tmp_path."""

    def __init__(self, base: Path, parts: list[Partition]) -> None:
        super().__init__()
        self.base = base
        self.parts = parts

    def disk_partitions(self, all: bool = False) -> list[Partition]:
        return list(self.parts)

    def disk_usage(self, path: str) -> Any:
        return psutil.disk_usage(str(self.base))


async def test_bind_mounts_and_a_device_mounted_twice_are_reported_once(tmp_path: Path) -> None:
    src = ScriptedMounts(tmp_path, [
        Partition("/dev/sda2", "/", "ext4"), Partition("/dev/sda2", "/run/netns", "ext4"),
        Partition("/dev/sda2", "/var/lib/docker/x", "ext4"), Partition("/dev/sda1", "/boot/efi", "vfat"),
        Partition("nsfs", "/run/netns/ns1", "nsfs"), Partition("/dev/sdb1", "/data", "ext4"),
    ])
    probe = HostProbe(HostConfig(interfaces=["none"]), ProbeContext(agent_id="pc-test"), source=src,
                      monotonic=src.monotonic)
    paths = [p.tg["path"] for p in conforming(await probe.collect()) if p.m == "host_disk"]
    assert sorted(paths) == ["/", "/boot/efi", "/data"]
