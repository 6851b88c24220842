"""Shared pieces of the benchmarks: a throw-away Mosquitto + InfluxDB + collector in a temp folder."""

from __future__ import annotations

import contextlib
import json
import statistics
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil
import yaml

from devstack import services as stack


@dataclass
class MiniStack:
    root: Path
    mqtt_port: int
    influx_port: int
    services: list[stack.Service]

    @property
    def influx_url(self) -> str:
        return f"http://127.0.0.1:{self.influx_port}"

    def query(self, q: str, db: str = "bench") -> list[dict[str, object]]:
        data = urllib.parse.urlencode({"q": q, "db": db}).encode()
        with urllib.request.urlopen(f"{self.influx_url}/query", data=data, timeout=30) as r:
            return list(json.loads(r.read())["results"][0].get("series", []))

    def count(self, measurement: str, field: str = "n", db: str = "bench") -> int:
        s = self.query(f'SELECT count("{field}") FROM "{measurement}"', db)
        return int(s[0]["values"][0][1]) if s else 0  # type: ignore[index]

    def stop(self) -> None:
        for s in reversed(self.services):
            s.stop()


def start_ministack(root: Path, inventory: dict[str, dict[str, str]], collector: bool = True,
                    collector_extra: dict[str, object] | None = None, profile: Path | None = None) -> MiniStack:
    """Mosquitto, InfluxDB (database ``bench``) and, with ``collector``, a collector for ``inventory``;
    ``profile``: run the collector under cProfile, writing its stats there when it stops."""
    mqtt_port, influx_port = stack.free_port(), stack.free_port()
    services = [stack.mosquitto(root / "mosquitto", mqtt_port),
                stack.influxdb(root / "influxdb", influx_port, stack.free_port())]
    for s in services:
        s.start()
    ms = MiniStack(root, mqtt_port, influx_port, services)
    ms.query('CREATE DATABASE "bench"')
    if collector:
        d = root / "collector"
        d.mkdir(parents=True, exist_ok=True)
        (d / "fleet.yaml").write_text(yaml.safe_dump({"agents": inventory}))
        extra = dict(collector_extra or {})
        mqtt = {"port": mqtt_port, "client_id": "bench-collector", **extra.pop("mqtt", {})}  # type: ignore[dict-item]
        cfg = {"inventory": "fleet.yaml", "mqtt": mqtt, "influx": {"url": ms.influx_url, "database": "bench"}, **extra}
        (d / "collector.yaml").write_text(yaml.safe_dump(cfg))
        wrap = ["cProfile", "-o", str(profile), "-m"] if profile else []
        c = stack.python_service("collector", d, [*wrap, "collector.cli", "run", "-c", str(d / "collector.yaml"),
                                                  "--state-dir", str(d)], lambda: True)
        c.start()
        services.append(c)
    return ms


@dataclass
class Footprint:
    rss_mb_median: float
    rss_mb_max: float
    cpu_percent: float
    children_cpu_percent: float = 0.0
    """The part of ``cpu_percent`` spent in reaped children (``tree`` sampling)."""
    pss_mb_end: float | None = None
    """Proportional set size at the end of the window (shared library pages split among the processes that map
    them), when readable; with ``tree``, summed over the tree like the RSS."""


def _tree_rss(proc: psutil.Process) -> int:
    """RSS of ``proc`` plus every live descendant (shared pages are counted once per process: an overstatement)."""
    total = proc.memory_info().rss
    for child in proc.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += child.memory_info().rss
    return total


def _pss_mb(proc: psutil.Process, tree: bool) -> float | None:
    try:
        procs = [proc, *proc.children(recursive=True)] if tree else [proc]
        return sum(p.memory_full_info().pss for p in procs) / 2**20
    except (psutil.Error, AttributeError):  # no smaps (not Linux) or not allowed
        return None


def _cpu_s(proc: psutil.Process, tree: bool) -> tuple[float, float]:
    """(CPU s of the process, of the descendants it has waited for: a short-lived child such as the agent's
    token scan is counted once it exits and is reaped; 0 unless ``tree``)."""
    t = proc.cpu_times()
    return t.user + t.system, (t.children_user + t.children_system) if tree else 0.0


def sample(pid: int, seconds: float, every: float = 2.0, warmup: float = 20.0, tree: bool = False) -> Footprint:
    """Steady RSS (median and max after ``warmup``) and average CPU% of one process over ``seconds``.

    ``tree``: the process and its whole tree — at every sample the RSS is the sum over the process and its live
    descendants, and the CPU includes the descendants it has reaped. A child that lives shorter than ``every``
    may fall between two samples: the median is the steady figure; report such a child's peak separately."""
    proc = psutil.Process(pid)
    t_end = time.monotonic() + seconds
    time.sleep(min(warmup, seconds / 4))
    (own0, kids0), wall0 = _cpu_s(proc, tree), time.monotonic()
    rss = []
    while time.monotonic() < t_end:
        rss.append((_tree_rss(proc) if tree else proc.memory_info().rss) / 2**20)
        time.sleep(every)
    (own, kids), wall = _cpu_s(proc, tree), time.monotonic() - wall0
    return Footprint(statistics.median(rss), max(rss), (own - own0 + kids - kids0) / wall * 100, (kids - kids0) / wall * 100,
                     _pss_mb(proc, tree))
