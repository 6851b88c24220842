"""A write InfluxDB rejects for one agent's content is isolated per agent; 413 splits; both against real InfluxDB
through a failure-injecting proxy."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import wire
from collector.config import InfluxSection
from collector.influx import V1Writer
from collector.pipeline import Pipeline
from tests.collector.test_pipeline import RecordingAcks, _accepted, _acked, _drain
from tests.support.influx_proxy import InfluxProxy, influx_proxy
from tests.support.services import Influx

pytestmark = pytest.mark.integration


class AcksWithWriteCount:
    """Records each ack with how many writes the proxy had seen when it was published."""

    def __init__(self, proxy: InfluxProxy) -> None:
        self.proxy = proxy
        self.sent: list[tuple[str, wire.Ack]] = []
        self.at_write: dict[str, int] = {}

    async def publish(self, agent: str, payload: bytes) -> None:
        self.sent.append((agent, wire.decode_ack(payload)))
        self.at_write.setdefault(agent, len(self.proxy.writes))


async def test_a_content_rejection_is_bisected_only_within_the_offending_agent(influx: tuple[Influx, str],
                                                                              tmp_path: Path) -> None:
    server, db = influx
    with influx_proxy(server.url) as proxy:
        writer = V1Writer(InfluxSection(url=proxy.url, database=db))
        acks = AcksWithWriteCount(proxy)
        pipeline = Pipeline(writer, acks, flush_interval=0.05, quarantine_path=tmp_path / "q.jsonl")
        await pipeline.add(_accepted("pc-bad", 1, [f"m,agent=pc-bad v=1.0 {i}" for i in range(1, 40)]
                                     + ['m,agent=pc-bad v="text" 40']))
        await pipeline.add(_accepted("pc-2", 1, [f"m,agent=pc-2 v=2.0 {i}" for i in range(1, 21)]))
        await pipeline.add(_accepted("pc-3", 4, [f"m,agent=pc-3 v=3.0 {i}" for i in range(1, 11)]))
        await _drain(pipeline)
        await writer.close()
        writes = list(proxy.writes)
    counts = {r["agent"]: r["count"] for r in server.rows('SELECT count("v") FROM "m" GROUP BY "agent"', db)}
    assert counts == {"pc-bad": 39, "pc-2": 20, "pc-3": 10}
    assert dict(pipeline.stats.quarantined) == {("pc-bad", "field_type_conflict"): 1}
    # the other agents were acked after one write each (the shared write + one per agent), before any bisecting
    assert acks.at_write["pc-2"] <= 3 and acks.at_write["pc-3"] <= 4
    assert len(writes) > acks.at_write["pc-3"]  # the bisecting came after
    assert {a: sorted(_acked_of(acks.sent, a)) for a in ("pc-bad", "pc-2", "pc-3")} == {
        "pc-bad": [1], "pc-2": [1], "pc-3": [4]}


def _acked_of(sent: list[tuple[str, wire.Ack]], agent: str) -> list[int]:
    return [s for a, ack in sent if a == agent for lo, hi in ack.ranges for s in range(lo, hi + 1)]


async def test_too_large_writes_are_split_and_nothing_is_quarantined(influx: tuple[Influx, str],
                                                                     tmp_path: Path) -> None:
    server, db = influx
    with influx_proxy(server.url) as proxy:
        proxy.mode = "too_large"
        proxy.max_body = 1500
        writer = V1Writer(InfluxSection(url=proxy.url, database=db))
        recorder = RecordingAcks()
        pipeline = Pipeline(writer, recorder, flush_interval=0.05, quarantine_path=tmp_path / "q.jsonl")
        for seq in range(1, 5):
            await pipeline.add(_accepted("pc-1", seq, [f"big,agent=pc-1 v={seq}.5 {seq * 100 + i}" for i in range(40)]))
        await _drain(pipeline)
        await writer.close()
        statuses = [s for s, _ in proxy.writes]
    assert 413 in statuses and statuses.count(204) >= 2
    assert server.rows('SELECT count("v") FROM "big"', db)[0]["count"] == 160
    assert pipeline.stats.counters["points_quarantined"] == 0 and not (tmp_path / "q.jsonl").exists()
    assert _acked(recorder) == {1: 1, 2: 1, 3: 1, 4: 1}
