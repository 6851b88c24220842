"""An agent that stays over its limits is blocked at the broker: its later publishes never reach the collector,
the honest agent beside it loses nothing, and ``commune-collector unblock`` lets it in again (real Mosquitto with
the fleet ACL, reloaded by SIGHUP; real InfluxDB; the collector)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agent import wire
from collector.blocking import STATE_FILE
from tests.support.hostile import HONEST, HOSTILE, Rig, honest_and_hostile
from tests.support.services import Influx, wait_for

pytestmark = pytest.mark.integration

LIMITS = {"limits": {"points_per_second": 5.0, "burst_points": 19}}  # a 20-point batch never fits; 3-point ones do
BLOCK = {"after_messages": 10, "after_seconds": 600.0, "duration": 3600.0}


async def _wait(check: Callable[[], object], what: str) -> object:
    return await asyncio.to_thread(wait_for, check, 30, 0.1, what)


def _flood_batch(rig: Rig) -> int:
    t = time.time_ns()
    return rig.hostile_batch([wire.Point(m="synthetic", t=t + i, f={"n": i, "value": 1.0},
                                         tg={"run": "hostile", "series": f"s{i % 2}"}) for i in range(20)])


def _unblock(rig: Rig) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "collector.cli", "unblock", HOSTILE, "-c", str(rig.config_path),
                           "--state-dir", str(rig.state_dir)], capture_output=True, text=True, timeout=60)


async def _metric(rig: Rig, name: str) -> dict[str, float]:
    return await asyncio.to_thread(rig.metric, name)  # the collector serves /metrics on this event loop


async def _honest_drain(rig: Rig, honest: list[wire.Point]) -> None:
    """An honest batch published now is acked only after everything queued before it for the collector."""
    honest += await asyncio.to_thread(rig.honest_round)
    seq = rig.next_seq[HONEST]
    await _wait(lambda: rig.honest.acked[seq] >= 1, f"honest batch {seq} acked")


async def test_an_agent_over_its_limits_is_blocked_at_the_broker_and_unblocked_on_demand(
        tmp_path: Path, influx: tuple[Influx, str]) -> None:
    server, db = influx
    async with honest_and_hostile(tmp_path, server, db, extra=LIMITS, block=BLOCK) as rig:
        honest: list[wire.Point] = []
        # the flood, with honest batches in between, until the collector blocks the hostile agent
        deadline = time.monotonic() + 60
        while not (await _metric(rig, "commune_collector_agent_blocked")).get(HOSTILE):
            assert time.monotonic() < deadline, "the hostile agent was never blocked"
            for _ in range(5):
                await asyncio.to_thread(_flood_batch, rig)
            honest += await asyncio.to_thread(rig.honest_round)
        assert await _metric(rig, "commune_collector_agents_blocked") == {"": 1.0}
        assert rig.state_dir is not None and HOSTILE in json.loads((rig.state_dir / STATE_FILE).read_text())
        await _honest_drain(rig, honest)  # what the hostile agent published before the block has arrived
        received = (await _metric(rig, "commune_collector_agent_messages"))[HOSTILE]

        # blocked: the broker takes its publishes (PUBACK) but never hands them to the collector
        for _ in range(30):
            await asyncio.to_thread(_flood_batch, rig)
        await _honest_drain(rig, honest)
        assert (await _metric(rig, "commune_collector_agent_messages"))[HOSTILE] == received
        assert await _metric(rig, "commune_collector_block_apply_errors") == {"": 0.0}

        # every honest batch stored and acked exactly once, during and after the flood
        want = set(range(1, rig.next_seq[HONEST] + 1))
        await _wait(lambda: want <= set(rig.honest.acked), "every honest batch acked")
        rows = await _wait(lambda: (r := rig.honest_rows()) and len(r) >= len(honest) and r, "honest points stored")
        assert sorted((r["time"], r["n"]) for r in rows) == sorted((p.t, p.f["n"]) for p in honest)  # type: ignore[union-attr]
        assert all(rig.honest.acked[s] == 1 for s in want), rig.honest.acked
        assert not any(a == HONEST for a, _ in await asyncio.to_thread(rig.rejected))
        assert await asyncio.to_thread(rig.influx.rows, 'SELECT * FROM "synthetic" WHERE "run" = \'hostile\'', rig.db) == []

        # unblock: the CLI rewrites the state and the ACL and reloads the broker; the collector follows
        r = await asyncio.to_thread(_unblock, rig)
        assert r.returncode == 0, r.stderr
        assert f"{HOSTILE} unblocked" in r.stdout
        await _wait(lambda: not rig.metric("commune_collector_agent_blocked").get(HOSTILE), "block lifted")
        assert await _metric(rig, "commune_collector_agents_unblocked") == {"": 1.0}
        seq = await asyncio.to_thread(_flood_batch, rig)
        await _wait(lambda: rig.metric("commune_collector_agent_messages")[HOSTILE] > received,
                    "the collector receives the agent again")
        await _wait(lambda: rig.hostile.acked[seq] >= 1, "its batch acked (refused over its limit: final)")
        again = await asyncio.to_thread(_unblock, rig)
        assert again.returncode == 1 and "is not blocked" in again.stdout
