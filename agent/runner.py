"""The agent's main loop: each probe on its own interval with a timeout, points gathered into batches,
batches handed to the publisher, and the agent's own health published as the ``agent`` measurement.

Measurements
- ``agent_probe`` (tag ``probe``): duration_ms, points, result (ok / timeout / error), ok, reason.
- ``agent``: queue_depth, queue_bytes, queue_dropped_total, queue_oldest_age_s, queue_errors, published_total,
  resent_total, acked_total, batches_built_total, bad_acks_total, reconnects, connected (1/0),
  clock_offset_ms (collector clock - agent clock; also sent with every batch as ``Batch.clock_offset_ms``),
  rss_bytes, cpu_seconds.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from pathlib import Path
from typing import Final

import psutil

from agent.config import AgentConfig
from agent.probes import REGISTRY, Probe, ProbeConfig
from agent.probes.base import ProbeContext, clean_fields, result_fields, round_failed
from agent.publish import Publisher
from agent.queue import DiskQueue
from agent.wire import Point
from agent.wire.spec import RESULT_FIELDS, float_field, int_field, measurement
from common.supervise import supervise

log = logging.getLogger("agent")

MEASUREMENTS: Final = (
    measurement("agent_probe", "agent", {"probe": "probe name"}, {
        "duration_ms": float_field("ms", "how long the round took"),
        "points": int_field("count", "points the round produced"),
        **RESULT_FIELDS,
    }, doc="one point per probe round; result is ok / timeout / error"),
    measurement("agent", "agent", {}, {
        "queue_depth": int_field("batches", "unacked batches on disk"),
        "queue_bytes": int_field("bytes", "size of the unacked batches on disk"),
        "queue_dropped_total": int_field("batches", "dropped by the queue bounds (persisted)"),
        "queue_oldest_age_s": float_field("s", "since the oldest unacked batch was queued"),
        "queue_errors": int_field("batches", "the disk refused (sent from memory)"),
        "published_total": int_field("batches", "counter since start"),
        "resent_total": int_field("batches", "counter since start"),
        "acked_total": int_field("batches", "counter since start"),
        "batches_built_total": int_field("batches", "counter since start"),
        "bad_acks_total": int_field("count", "acks that did not decode, since start"),
        "reconnects": int_field("count", "since start"),
        "connected": int_field("1/0"),
        "clock_offset_ms": float_field("ms", "collector clock - agent clock, from the last ack"),
        "rss_bytes": int_field("bytes"),
        "cpu_seconds": float_field("s", "of CPU since start"),
    }),
)
"""The agent's own measurements (``agent.wire.spec``)."""


def build_probes(cfg: AgentConfig, ctx: ProbeContext) -> list[Probe[ProbeConfig]]:
    return [REGISTRY[name](pcfg, ctx) for name, pcfg in cfg.probes.items() if pcfg.enabled]


async def run_probe_once(probe: Probe[ProbeConfig]) -> list[Point]:
    """Run one round with the probe's timeout. Never raises (except cancellation)."""
    started = time.perf_counter()
    points: list[Point] = []
    code, reason = "ok", ""
    try:
        async with asyncio.timeout(float(probe.config.timeout)):
            points = await probe.collect()
    except TimeoutError:
        code, reason = "timeout", f"probe did not finish within {probe.config.timeout:g}s"
    except Exception as exc:  # a bug or an unexpected failure in one probe must not stop the others
        log.exception("probe %s failed", probe.name)
        code, reason = "error", f"{type(exc).__name__}: {exc}"
    duration_ms = (time.perf_counter() - started) * 1000.0
    meta = Point(m="agent_probe", t=time.time_ns(), tg={"probe": probe.name},
                 f=clean_fields({"duration_ms": duration_ms, "points": len(points), **result_fields(code, reason)}))
    return [*points, meta]


class Batcher:
    """Collects points and hands them to the publisher in batches (flush window or size limit)."""

    def __init__(self, publisher: Publisher, max_points: int, flush_interval: float) -> None:
        self.publisher = publisher
        self.max_points = max_points
        self.flush_interval = flush_interval
        self._points: list[Point] = []
        self._have = asyncio.Event()

    def add(self, points: list[Point]) -> None:
        self._points.extend(points)
        while len(self._points) >= self.max_points:
            self.publisher.submit(self._points[: self.max_points])
            self._points = self._points[self.max_points :]
        if self._points:
            self._have.set()

    def flush(self) -> None:
        if self._points:
            self.publisher.submit(self._points)
            self._points = []
        self._have.clear()

    async def run(self) -> None:
        while True:
            await self._have.wait()
            await asyncio.sleep(self.flush_interval)
            self.flush()


class Agent:
    def __init__(self, cfg: AgentConfig, state_dir: Path) -> None:
        self.cfg = cfg
        self.state_dir = state_dir
        queue_path = Path(cfg.queue.path) if cfg.queue.path else state_dir / "queue.sqlite"
        self.queue = DiskQueue(queue_path, int(cfg.queue.max_bytes), float(cfg.queue.max_age))
        self.publisher = Publisher(cfg, self.queue)
        self.batcher = Batcher(self.publisher, cfg.queue.max_points_per_batch, float(cfg.queue.flush_interval))
        self.ctx = ProbeContext(agent_id=cfg.agent_id, state_dir=state_dir)
        self.probes = build_probes(cfg, self.ctx)
        self._proc = psutil.Process()

    async def _schedule(self, probe: Probe[ProbeConfig]) -> None:
        loop = asyncio.get_running_loop()
        interval = float(probe.config.interval)
        next_at = loop.time() + random.uniform(0, min(interval, 5.0))  # spread the first rounds
        quick = 0  # quick re-checks done since the last round without a failure
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            points = await run_probe_once(probe)
            self.batcher.add(points)
            retry = probe.config.retry_interval
            if retry is not None and round_failed(points) and quick < probe.config.rechecks:
                quick += 1  # confirm a failure soon (bounded), then back to the normal cadence
                next_at = loop.time() + float(retry)
                continue
            quick = quick if round_failed(points) else 0
            next_at += interval
            if next_at < loop.time():  # a round overran: skip the missed slots rather than bunch up
                next_at = loop.time() + interval

    def self_metrics(self) -> Point:
        q = self.queue.stats()
        s = self.publisher.stats
        cpu = self._proc.cpu_times()
        fields = {
            "queue_depth": q.depth, "queue_bytes": q.bytes, "queue_dropped_total": q.dropped_total,
            "queue_oldest_age_s": q.oldest_age_s, "queue_errors": s.queue_errors,
            "published_total": s.published, "resent_total": s.resent, "acked_total": s.acked,
            "reconnects": s.reconnects, "connected": 1 if s.connected else 0,
            "batches_built_total": s.batches_built, "bad_acks_total": s.bad_acks,
            "clock_offset_ms": s.clock_offset_ms, "rss_bytes": self._proc.memory_info().rss,
            "cpu_seconds": float(cpu.user + cpu.system),
        }
        return Point(m="agent", t=time.time_ns(), f=clean_fields(fields))

    async def _self_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.self_metrics_interval)
            self.batcher.add([self.self_metrics()])

    async def run(self) -> None:
        log.info("agent %s starting: probes %s", self.cfg.agent_id, ", ".join(p.name for p in self.probes) or "none")
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(supervise("publisher", self.publisher.run))
                tg.create_task(supervise("batcher", self.batcher.run))
                tg.create_task(supervise("self-metrics", self._self_loop))
                for probe in self.probes:
                    tg.create_task(supervise(f"probe {probe.name}", functools.partial(self._schedule, probe)))
        finally:
            self.batcher.flush()
            for probe in self.probes:
                await probe.close()
            self.queue.close()
