"""The runner turns a probe that hangs or raises into data (an ``agent_probe`` point with a result code and
a reason) and keeps every other probe running. The probes are real Probe subclasses defined here."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import ClassVar

from agent.config import parse_config
from agent.probes.base import Probe, ProbeConfig, ProbeContext
from agent.runner import Agent, run_probe_once
from agent.units import Duration
from agent.wire import Point
from tests.support.schema import conforming


class HangingProbe(Probe[ProbeConfig]):
    """Never finishes on its own; records that the runner cancelled it (it must not be left running)."""

    name: ClassVar[str] = "hangs"
    Config: ClassVar[type[ProbeConfig]] = ProbeConfig

    def __init__(self, config: ProbeConfig, ctx: ProbeContext) -> None:
        super().__init__(config, ctx)
        self.cancelled = 0

    async def collect(self) -> list[Point]:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return []


class RaisingProbe(Probe[ProbeConfig]):
    name: ClassVar[str] = "raises"
    Config: ClassVar[type[ProbeConfig]] = ProbeConfig

    async def collect(self) -> list[Point]:
        raise RuntimeError("the device answered garbage")


class CountingProbe(Probe[ProbeConfig]):
    name: ClassVar[str] = "counts"
    Config: ClassVar[type[ProbeConfig]] = ProbeConfig

    def __init__(self, config: ProbeConfig, ctx: ProbeContext) -> None:
        super().__init__(config, ctx)
        self.rounds = 0

    async def collect(self) -> list[Point]:
        self.rounds += 1
        return [self.point("counts", {"n": self.rounds})]


CTX = ProbeContext(agent_id="pc-test")


def cfg(timeout: float = 0.3, interval: float = 0.05) -> ProbeConfig:
    return ProbeConfig(interval=Duration(interval), timeout=Duration(timeout))


def meta(points: list[Point]) -> Point:
    (m,) = [p for p in points if p.m == "agent_probe"]
    return m


async def test_hanging_probe_times_out_as_data() -> None:
    probe = HangingProbe(cfg(timeout=0.3), CTX)
    points = conforming(await run_probe_once(probe))
    assert len(points) == 1
    m = meta(points)
    assert m.tg == {"probe": "hangs"}
    assert (m.f["result"], m.f["ok"], m.f["points"]) == ("timeout", 0, 0)
    assert m.f["reason"] == "probe did not finish within 0.3s"
    assert probe.cancelled == 1  # the runner cancelled the hung round, it is not left behind


async def test_raising_probe_is_an_error_point() -> None:
    points = await run_probe_once(RaisingProbe(cfg(), CTX))
    assert len(points) == 1
    m = meta(points)
    assert m.tg == {"probe": "raises"}
    assert (m.f["result"], m.f["ok"], m.f["points"]) == ("error", 0, 0)
    assert m.f["reason"] == "RuntimeError: the device answered garbage"


async def test_a_good_probe_in_the_same_round_is_unaffected() -> None:
    good = CountingProbe(cfg(), CTX)
    hung, bad, ok = await asyncio.gather(run_probe_once(HangingProbe(cfg(timeout=0.3), CTX)),
                                         run_probe_once(RaisingProbe(cfg(), CTX)), run_probe_once(good))
    assert meta(hung).f["result"] == "timeout"
    assert meta(bad).f["result"] == "error"
    assert [p.f for p in ok if p.m == "counts"] == [{"n": 1}]
    assert (meta(ok).f["result"], meta(ok).f["ok"], meta(ok).f["points"], meta(ok).f["reason"]) == ("ok", 1, 1, "")


async def test_scheduler_keeps_every_probe_running(tmp_path: Path) -> None:
    """The agent's own scheduler: a hung and a crashing probe go on producing error points round after round,
    and the healthy probe beside them goes on producing measurements."""
    config = parse_config({"agent": {"id": "pc-test"}, "queue": {"max_points_per_batch": 5000}}, "test")
    agent = Agent(config, tmp_path)
    good, hung, bad = CountingProbe(cfg(), CTX), HangingProbe(cfg(timeout=0.1), CTX), RaisingProbe(cfg(), CTX)

    def by_probe() -> dict[str, list[str]]:
        seen: dict[str, list[str]] = {"counts": [], "hangs": [], "raises": []}
        for p in agent.batcher._points:
            if p.m == "agent_probe":
                seen[p.tg["probe"]].append(str(p.f["result"]))
        return seen

    tasks = [asyncio.create_task(agent._schedule(p)) for p in (good, hung, bad)]
    try:
        deadline = time.monotonic() + 30
        while min(len(v) for v in by_probe().values()) < 3:
            assert time.monotonic() < deadline, f"probes stopped being scheduled: {by_probe()}"
            assert not any(t.done() for t in tasks), [t.exception() for t in tasks if t.done()]
            await asyncio.sleep(0.05)  # polling interval while the scheduler runs, not a synchronisation
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        agent.queue.close()
    seen = by_probe()
    assert set(seen["counts"]) == {"ok"}
    assert set(seen["hangs"]) == {"timeout"}
    assert set(seen["raises"]) == {"error"}
    assert good.rounds >= 3
    assert hung.cancelled >= 3
    counts = [int(p.f["n"]) for p in agent.batcher._points if p.m == "counts"]
    assert counts == list(range(1, len(counts) + 1))  # every healthy round arrived, in order


class FailingProbe(Probe[ProbeConfig]):
    """Every check fails (``ok`` = 0), like a portal that is down."""

    name: ClassVar[str] = "fails"
    Config: ClassVar[type[ProbeConfig]] = ProbeConfig

    def __init__(self, config: ProbeConfig, ctx: ProbeContext) -> None:
        super().__init__(config, ctx)
        self.rounds = 0

    async def collect(self) -> list[Point]:
        self.rounds += 1
        return [self.point("fails", {"ok": 0, "result": "connect_refused"})]


async def test_a_failed_check_is_repeated_soon_a_bounded_number_of_times(tmp_path: Path) -> None:
    """With retry_interval set, a failed round is re-run at once (twice here), then the normal hour-long
    interval applies again: the re-checks are bounded, not a tight loop against a dead service."""
    config = parse_config({"agent": {"id": "pc-test"}}, "test")
    agent = Agent(config, tmp_path)
    probe = FailingProbe(ProbeConfig(interval=Duration(3600), retry_interval=Duration(0), rechecks=2), CTX)
    plain = FailingProbe(ProbeConfig(interval=Duration(3600)), CTX)
    tasks = [asyncio.create_task(agent._schedule(p)) for p in (probe, plain)]
    try:
        deadline = time.monotonic() + 30
        while probe.rounds < 3 or plain.rounds < 1:
            assert time.monotonic() < deadline, (probe.rounds, plain.rounds)
            await asyncio.sleep(0.05)  # polling while the scheduler runs, not a synchronisation
        for _ in range(50):  # give an unbounded retry loop every chance to run again
            await asyncio.sleep(0)
        assert probe.rounds == 3, "one round and two quick re-checks, then the normal interval"
        assert plain.rounds == 1, "without retry_interval a failure waits for the next interval"
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        agent.queue.close()
