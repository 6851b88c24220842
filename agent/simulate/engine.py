"""Running a simulated province: live (one round every ``interval`` on the wall clock) or backfill (every
round of a past period, as fast as the collector's acks allow), one MQTT connection per virtual agent.

Live: each round, a powered agent measures; it is online (connected) only while powered and while its
site's link and router are up. What it measured while cut off is sent when the link is back (store and
forward, as the real agent does), so the fault shows in InfluxDB as failed measurements in the window.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from agent import wire
from agent.simulate.fleet import Fleet
from agent.simulate.model import AgentModel, portals
from agent.simulate.scenario import Scenario
from agent.simulate.session import Session, Totals

log = logging.getLogger("agent.simulate")
NS = 1_000_000_000
MAX_BATCH_POINTS = 2000  # ~250 KB of JSON, well within wire.MAX_BATCH_BYTES


@dataclass
class Report:
    mode: str
    communes: int
    sites: int
    agents: int
    rounds: int
    seconds: float
    totals: Totals
    max_connected: int = 0

    def line(self) -> str:
        t = self.totals
        rate = t.acked_points / self.seconds if self.seconds > 0 else 0.0
        return (f"{self.mode}: {self.communes} communes, {self.sites} sites, {self.agents} agents, {self.rounds} rounds "
                f"in {self.seconds:.1f}s; batches {t.batches} ({t.points} points), acked {t.acked} "
                f"({t.acked_points} points, {rate:.0f} points/s); connections max {self.max_connected}, "
                f"connect failures {t.connect_failures}")


class Simulation:
    def __init__(self, scenario: Scenario, fleet: Fleet, passwords: dict[str, str], host: str, port: int, *,
                 max_unacked: int = 20, connect_concurrency: int = 64, ack_timeout: float = 30.0) -> None:
        self.sc = scenario
        self.fleet = fleet
        self.passwords = passwords
        self.host, self.port = host, port
        self.max_unacked = max_unacked
        self.connect_slots = connect_concurrency
        self.ack_timeout = ack_timeout
        self.totals = Totals()
        self.max_connected = 0

    def _models(self, origin_ns: int) -> list[AgentModel]:
        windows = self.sc.windows(origin_ns)
        plist = portals()
        return [AgentModel(a, self.sc, windows, plist) for a in self.fleet.agents]

    def _sessions(self, models: list[AgentModel]) -> list[Session]:
        base = time.time_ns() // 1000
        return [Session(m.agent.agent_id, self.passwords.get(m.agent.agent_id), self.host, self.port, self.totals,
                        seq_base=base, max_unacked=self.max_unacked, ack_timeout=self.ack_timeout)
                for m in models]

    def _report(self, mode: str, rounds: int, seconds: float) -> Report:
        return Report(mode, len({s.commune for s in self.fleet.sites}), len(self.fleet.sites), len(self.fleet.agents),
                      rounds, seconds, self.totals, self.max_connected)

    async def _watch(self, every: float, on_stats: Callable[[Report], None] | None, started: float, mode: str) -> None:
        while True:
            await asyncio.sleep(min(every, 1.0))
            self.max_connected = max(self.max_connected, self.totals.connected)
            if on_stats is not None and int(time.monotonic() - started) % max(1, int(every)) == 0:
                on_stats(self._report(mode, 0, time.monotonic() - started))

    async def live(self, duration: float | None = None, *, on_stats: Callable[[Report], None] | None = None,
                   stats_every: float = 60.0, drain_timeout: float = 120.0) -> Report:
        """Run until ``duration`` seconds passed (None: until cancelled); then wait for the last acks."""
        interval_ns = round(self.sc.interval * NS)
        origin = -(-time.time_ns() // interval_ns) * interval_ns  # the first round, on the interval's grid
        models = self._models(origin)
        sessions = self._sessions(models)
        started = time.monotonic()
        stop_at = None if duration is None else time.time_ns() + round(duration * NS)
        rounds = 0
        slots = asyncio.Semaphore(self.connect_slots)
        for m, s in zip(models, sessions, strict=True):
            s.set_online(m.powered(origin) and m.reachable(origin))
        tasks = [asyncio.create_task(s.run(slots)) for s in sessions]
        watcher = asyncio.create_task(self._watch(stats_every, on_stats, started, "live"))
        try:
            t = origin
            while stop_at is None or t < stop_at:
                await asyncio.sleep(max(0.0, (t - time.time_ns()) / NS))
                for m, s in zip(models, sessions, strict=True):
                    powered = m.powered(t)
                    s.set_online(powered and m.reachable(t))
                    if powered:
                        s.clock_skew_s = m.state(t).clock_offset_s
                        s.submit(m.points(t), t)
                rounds += 1
                t += interval_ns
            for s in sessions:  # the faults are over for this run: let every agent deliver what it holds
                s.set_online(True)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(drain_timeout):
                    await asyncio.gather(*(s.drained() for s in sessions))
            self.max_connected = max(self.max_connected, self.totals.connected)
        finally:
            await _stop([*tasks, watcher])
        return self._report("live", rounds, time.monotonic() - started)

    async def backfill(self, start_ns: int, end_ns: int, *, rounds_per_batch: int = 30,
                       on_stats: Callable[[Report], None] | None = None, stats_every: float = 10.0) -> Report:
        """Every round from ``start_ns`` (included) to ``end_ns`` (excluded), stamped with the agents' clocks;
        relative fault times count from ``start_ns``."""
        interval_ns = round(self.sc.interval * NS)
        first = -(-start_ns // interval_ns) * interval_ns
        ticks = list(range(first, end_ns, interval_ns))
        models = self._models(start_ns)
        sessions = self._sessions(models)
        started = time.monotonic()
        slots = asyncio.Semaphore(self.connect_slots)
        tasks = [asyncio.create_task(s.run(slots)) for s in sessions]
        watcher = asyncio.create_task(self._watch(stats_every, on_stats, started, "backfill"))
        try:
            await asyncio.gather(*(self._produce(m, s, ticks, rounds_per_batch) for m, s in zip(models, sessions,
                                                                                               strict=True)))
            self.max_connected = max(self.max_connected, self.totals.connected)
        finally:
            await _stop([*tasks, watcher])
        return self._report("backfill", len(ticks), time.monotonic() - started)

    async def _produce(self, m: AgentModel, s: Session, ticks: list[int], per_batch: int) -> None:
        points: list[wire.Point] = []
        for i, t in enumerate(ticks):
            if m.powered(t):
                points += m.points(t)
            last = i == len(ticks) - 1
            if points and (last or len(points) + 40 > MAX_BATCH_POINTS or (i + 1) % per_batch == 0):
                await s.drained(below=self.max_unacked * 2)
                s.clock_skew_s = m.state(t).clock_offset_s
                s.submit(points, t)
                points = []
            if i % 50 == 0:
                await asyncio.sleep(0)
        await s.drained()


async def _stop(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
