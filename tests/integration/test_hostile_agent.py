"""A hostile (or broken) agent with valid credentials beside an honest one: every honest point is stored and acked
exactly once, the hostile input is rejected with its named reason (on /metrics), and nothing else reaches
InfluxDB (measurements, tag keys, series, field types)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from agent import wire
from tests.support.hostile import HONEST, HOSTILE, Rig, honest_and_hostile
from tests.support.services import Influx, wait_for

pytestmark = pytest.mark.integration

S = 10**9
META = {"rollup_choice", "commune_inventory"}  # the collector's own (collector/retention.py), written at start
WEEK = 7 * 86400 * S


async def _wait(check: Callable[[], object], what: str) -> object:
    return await asyncio.to_thread(wait_for, check, 30, 0.1, what)


async def _verify(rig: Rig, honest: list[wire.Point], hostile_seqs: list[int], reasons: dict[str, int]) -> None:
    want_seqs = set(range(1, rig.next_seq[HONEST] + 1))
    await _wait(lambda: want_seqs <= set(rig.honest.acked), "every honest batch acked")
    await _wait(lambda: all(rig.rejected().get((HOSTILE, r), 0) >= n for r, n in reasons.items()),
                f"rejections {reasons} of {HOSTILE} on /metrics")
    await _wait(lambda: set(hostile_seqs) <= set(rig.hostile.acked), "the hostile batches acked (rejection is final)")
    rows = await _wait(lambda: (r := rig.honest_rows()) and len(r) >= len(honest) and r, "honest points stored")
    assert sorted((r["time"], r["n"], r["value"]) for r in rows) == sorted(  # type: ignore[union-attr]
        (p.t, p.f["n"], p.f["value"]) for p in honest)
    assert all(rig.honest.acked[s] == 1 for s in want_seqs), rig.honest.acked
    rejected = await asyncio.to_thread(rig.rejected)  # the collector serves /metrics on this event loop
    assert {a for a, _ in rejected} <= {HOSTILE}
    assert {r: n for (a, r), n in rejected.items()} == {r: float(n) for r, n in reasons.items()}
    # nothing but the honest-only set in InfluxDB (the collector's own stats are part of it)
    await _wait(lambda: rig.influx.rows('SELECT count("received") FROM "collector"', rig.db), "collector stats")
    assert {m for _, m in rig.show("MEASUREMENTS")} == {"collector", "synthetic", *META}
    assert {k for m, k in rig.show("TAG KEYS") if m == "synthetic"} == {
        "agent", "commune", "commune_name", "province", "run", "series", "site"}
    assert {k for m, k in rig.show("TAG KEYS") if m == "collector"} == {"collector"}
    assert rig.show('FIELD KEYS FROM "synthetic"') == {("synthetic", "n", "integer"), ("synthetic", "value", "float")}
    series = {k for _, k in rig.show("SERIES")}
    synthetic = {k for k in series if str(k).startswith("synthetic,")}
    assert len(synthetic) == 2 and all(f"agent={HONEST}," in str(k) for k in synthetic), synthetic
    assert series - synthetic == {k for k in series if str(k).split(",")[0] in {"collector", *META}}


def _hostile_synthetic(t: int, **f: wire.FieldValue) -> wire.Point:
    return wire.Point(m="synthetic", t=t, f=f, tg={"run": "hostile", "series": "s0"})


async def test_field_type_poisoning_is_rejected_and_the_honest_float_is_stored(
        tmp_path: Path, influx: tuple[Influx, str]) -> None:
    server, db = influx
    async with honest_and_hostile(tmp_path, server, db) as rig:
        # the hostile agent writes the field first, as a string, into the same measurement and shard
        seq = await asyncio.to_thread(rig.hostile_batch, [_hostile_synthetic(time.time_ns(), value="x")])
        honest = await asyncio.to_thread(rig.honest_round)
        honest += await asyncio.to_thread(rig.honest_round)
        await _verify(rig, honest, [seq], {"wrong_type": 1})


async def test_points_into_the_collectors_own_measurements_are_reserved(
        tmp_path: Path, influx: tuple[Influx, str]) -> None:
    server, db = influx
    async with honest_and_hostile(tmp_path, server, db) as rig:
        now = time.time_ns()
        seq = await asyncio.to_thread(rig.hostile_batch, [
            wire.Point(m="collector", t=now, f={"rejected_unknown_agent": "poison"}),
            wire.Point(m="agent_status", t=now, f={"state": "online", "online": 1}),
            wire.Point(m="agent_clock", t=now, f={"offset_ms": "x"})])
        honest = await asyncio.to_thread(rig.honest_round)
        await _verify(rig, honest, [seq], {"reserved_measurement": 3})
        # the collector's own stats keep being written (not quarantined behind a type conflict)
        await _wait(lambda: rig.influx.rows('SELECT count("received") FROM "collector"', rig.db), "collector stats")
        assert rig.collector.pipeline.stats.counters["points_quarantined"] == 0


async def test_absurd_timestamps_are_rejected(tmp_path: Path, influx: tuple[Influx, str]) -> None:
    server, db = influx
    async with honest_and_hostile(tmp_path, server, db) as rig:
        times = [0, 1, 1 * S, 946_684_800 * S, 2**62]  # 1970, 2000, 2116
        seq = await asyncio.to_thread(rig.hostile_batch, [_hostile_synthetic(t, n=i) for i, t in enumerate(times)])
        # year 3000 is beyond the wire's timestamp range (2**62 ns): the batch does not decode at all
        year_3000 = msgspec.json.encode({"v": 1, "agent": HOSTILE, "seq": 50, "sent": 1, "points": [
            {"m": "synthetic", "t": 32_503_680_000 * S, "f": {"n": 1}, "tg": {"run": "hostile"}}]})
        await asyncio.to_thread(rig.publish_hostile, year_3000)
        honest = await asyncio.to_thread(rig.honest_round)
        await _verify(rig, honest, [seq], {"too_old": 4, "in_future": 1, "schema": 1})


async def test_a_batch_of_500_points_a_week_apart_creates_no_shards(tmp_path: Path, influx: tuple[Influx, str]) -> None:
    server, db = influx
    async with honest_and_hostile(tmp_path, server, db) as rig:
        honest = await asyncio.to_thread(rig.honest_round)
        await _wait(lambda: rig.honest_rows(), "the first honest points")
        shards_before = _shards(rig)
        now = time.time_ns()
        pts = [_hostile_synthetic(now - (i + 2) * WEEK, n=i) for i in range(250)]
        pts += [_hostile_synthetic(now + (i + 1) * WEEK, n=i) for i in range(250)]
        seq = await asyncio.to_thread(rig.hostile_batch, pts)
        payload_size = len(wire.encode(wire.Batch(v=1, agent=HOSTILE, seq=seq, sent=now, points=pts)))
        assert 20_000 < payload_size < 64_000  # a few tens of KB
        honest += await asyncio.to_thread(rig.honest_round)
        await _verify(rig, honest, [seq], {"too_old": 250, "in_future": 250})
        assert _shards(rig) == shards_before


def _shards(rig: Rig) -> int:
    data = rig.influx.query("SHOW SHARDS", rig.db)
    return sum(len(s.get("values") or []) for s in data if s.get("name") == rig.db)


async def test_integers_outside_int64_are_rejected(tmp_path: Path, influx: tuple[Influx, str]) -> None:
    server, db = influx
    async with honest_and_hostile(tmp_path, server, db) as rig:
        now = time.time_ns()
        seq = await asyncio.to_thread(rig.hostile_batch, [
            _hostile_synthetic(now, n=2**63), _hostile_synthetic(now + 1, n=2**64),
            _hostile_synthetic(now + 2, value=2**64)])
        honest = await asyncio.to_thread(rig.honest_round)
        await _verify(rig, honest, [seq], {"int_range": 3})
        assert rig.collector.pipeline.stats.counters["write_errors"] == 0  # nothing for InfluxDB to refuse


async def test_a_trailing_newline_in_names_tag_values_and_agent_id_is_rejected(
        tmp_path: Path, influx: tuple[Influx, str]) -> None:
    server, db = influx
    async with honest_and_hostile(tmp_path, server, db) as rig:
        now = time.time_ns()

        def raw(point: dict[str, object], agent: str = HOSTILE) -> bytes:
            return msgspec.json.encode({"v": 1, "agent": agent, "seq": 90, "sent": now, "points": [point]})

        for payload in (raw({"m": "synthetic\n", "t": now, "f": {"n": 1}}),
                        raw({"m": "synthetic", "t": now, "f": {"n": 1}, "tg": {"run": "z\n"}}),
                        raw({"m": "synthetic", "t": now, "f": {"n\n": 1}}),
                        raw({"m": "synthetic", "t": now, "f": {"n": 1}}, agent=HOSTILE + "\n")):
            await asyncio.to_thread(rig.publish_hostile, payload)
        honest = await asyncio.to_thread(rig.honest_round)
        await _verify(rig, honest, [], {"schema": 4})
        assert 90 not in rig.hostile.acked  # a batch that does not decode is not acked: nothing to say about it
