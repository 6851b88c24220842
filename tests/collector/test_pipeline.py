"""The collector's write path against real InfluxDB: batches, acks, a partly rejected write, back-pressure."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest

from agent import wire
from collector.config import AgentIdentity, InfluxSection
from collector.influx import V1Writer
from collector.pipeline import Pipeline
from collector.registry import communes
from collector.validate import Accepted
from tests.support.services import Influx, need_binary, start_influx

pytestmark = pytest.mark.integration


class RecordingAcks:
    """An AckPublisher that keeps what it was asked to publish (``fail`` makes it raise, like a lost session)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, wire.Ack]] = []
        self.fail = False

    async def publish(self, agent: str, payload: bytes) -> None:
        if self.fail:
            raise ConnectionError("not connected")
        self.sent.append((agent, wire.decode_ack(payload)))


def _accepted(agent: str, seq: int, lines: list[str]) -> Accepted:
    ident = AgentIdentity(agent, communes()["07900"], "main", "")
    return Accepted(ident, seq, [line.encode() for line in lines])


async def _drain(pipeline: Pipeline) -> None:
    task = asyncio.create_task(pipeline.run())
    try:
        async with asyncio.timeout(30):
            while pipeline.pending_batches or pipeline.pending_points:
                await asyncio.sleep(0.02)
    finally:
        task.cancel()


async def test_rejected_points_are_quarantined_and_the_rest_written(influx: tuple[Influx, str], tmp_path: Path) -> None:
    server, db = influx
    writer = V1Writer(InfluxSection(url=server.url, database=db))
    recorder = RecordingAcks()
    acks = recorder.sent
    quarantine = tmp_path / "quarantine.jsonl"
    pipeline = Pipeline(writer, recorder, flush_interval=0.01, quarantine_path=quarantine)
    # "v" is a float field; the second batch sends it as a string for one point: a field type conflict
    await pipeline.add(_accepted("pc-1", 1, [f"m,agent=pc-1 v=1.0 {i}" for i in range(1, 51)]))
    await pipeline.add(_accepted("pc-1", 2, [f"m,agent=pc-1 v=2.0 {i}" for i in range(51, 60)] + ['m,agent=pc-1 v="bad" 60']))
    await pipeline.add(_accepted("pc-2", 7, [f"m,agent=pc-2 v=3.0 {i}" for i in range(1, 21)]))
    await _drain(pipeline)
    await writer.close()

    rows = server.rows('SELECT count("v") FROM "m" GROUP BY "agent"', db)
    counts = {r["agent"]: r["count"] for r in rows}
    assert counts == {"pc-1": 59, "pc-2": 20}
    assert pipeline.stats.counters["points_quarantined"] == 1
    record = json.loads(quarantine.read_text().splitlines()[0])
    assert record["agent"] == "pc-1" and record["seq"] == 2 and record["line"] == 'm,agent=pc-1 v="bad" 60'
    assert "field type conflict" in record["reason"]
    acked = {(agent, tuple(ack.ranges)) for agent, ack in acks}
    assert ("pc-2", ((7, 7),)) in acked
    assert {s for agent, ack in acks if agent == "pc-1" for r in ack.ranges for s in range(r[0], r[1] + 1)} == {1, 2}


async def test_influxdb_down_means_no_ack_and_rising_depth(tmp_path: Path) -> None:
    from devstack.services import free_port

    writer = V1Writer(InfluxSection(url=f"http://127.0.0.1:{free_port()}", database="x", timeout=1))
    recorder = RecordingAcks()
    acks = recorder.sent
    pipeline = Pipeline(writer, recorder, flush_interval=0.01, max_pending_points=1000)
    task = asyncio.create_task(pipeline.run())
    try:
        for seq in range(1, 6):
            await pipeline.add(_accepted("pc-1", seq, [f"m v=1.0 {seq}"]))
        async with asyncio.timeout(20):
            while pipeline.stats.counters["write_errors"] < 2:
                await asyncio.sleep(0.05)
        assert acks == []
        assert pipeline.pending_points == 5
    finally:
        task.cancel()
        await writer.close()


async def test_resent_batches_are_not_written_twice(influx: tuple[Influx, str]) -> None:
    server, db = influx

    class CountingWriter(V1Writer):
        lines = 0

        async def write(self, body: bytes) -> None:
            await super().write(body)
            CountingWriter.lines += body.count(b"\n") + 1

    writer = CountingWriter(InfluxSection(url=server.url, database=db))
    recorder = RecordingAcks()
    pipeline = Pipeline(writer, recorder, flush_interval=0.01)
    batch = _accepted("pc-1", 5, [f"d v=1.0 {i}" for i in range(1, 11)])
    await pipeline.add(batch)
    await pipeline.add(batch)  # sent again while still pending: dropped
    await _drain(pipeline)
    await pipeline.add(batch)  # sent again after it was written: acked again, not written
    await writer.close()
    assert CountingWriter.lines == 10
    assert pipeline.stats.counters["duplicates_dropped"] == 1
    assert pipeline.stats.counters["duplicates_reacked"] == 1
    assert [a.ranges for _, a in recorder.sent] == [[(5, 5)], [(5, 5)]]
    assert server.rows('SELECT count("v") FROM "d"', db)[0]["count"] == 10


async def test_back_pressure_while_influxdb_is_down_then_everything_written_and_acked_once(tmp_path: Path) -> None:
    need_binary("influxd")
    own = start_influx(tmp_path / "influx")  # our own server: this test stops it
    try:
        own.create("bp")
        writer = V1Writer(InfluxSection(url=own.url, database="bp", timeout=2))
        recorder = RecordingAcks()
        pipeline = Pipeline(writer, recorder, flush_interval=0.01, batch_points=100, max_pending_points=1000)
        task = asyncio.create_task(pipeline.run())
        try:
            await asyncio.to_thread(own.service.stop)
            for seq in range(1, 11):  # 10 batches of 100 points: exactly the pending limit
                await pipeline.add(_accepted("pc-1", seq, [f"bp v={seq}.0 {seq * 1000 + i}" for i in range(100)]))
            assert pipeline.pending_points == 1000
            blocked = asyncio.create_task(pipeline.add(_accepted("pc-1", 11, [f"bp v=11.0 {11_000 + i}" for i in range(100)])))
            async with asyncio.timeout(30):
                while pipeline.stats.counters["write_errors"] < 2:
                    await asyncio.sleep(0.05)
            assert not blocked.done()  # the reader waits: nothing is taken in beyond the limit
            assert recorder.sent == [] and pipeline.pending_points == 1000
            await asyncio.to_thread(own.service.start)
            async with asyncio.timeout(90):
                await blocked
                while pipeline.pending_points or pipeline.pending_batches or len(_acked(recorder)) < 11:
                    await asyncio.sleep(0.05)
        finally:
            task.cancel()
            await writer.close()
        acked = _acked(recorder)
        assert sorted(acked) == list(range(1, 12)) and set(acked.values()) == {1}  # every batch acked exactly once
        assert pipeline.stats.counters["points_written"] == 1100
        assert own.rows('SELECT count("v") FROM "bp"', "bp")[0]["count"] == 1100
    finally:
        own.service.stop()


def _acked(recorder: RecordingAcks) -> Counter[int]:
    return Counter(s for _, ack in recorder.sent for lo, hi in ack.ranges for s in range(lo, hi + 1))


async def test_failed_acks_are_counted_and_own_points_need_none(influx: tuple[Influx, str],
                                                               caplog: pytest.LogCaptureFixture) -> None:
    server, db = influx
    writer = V1Writer(InfluxSection(url=server.url, database=db))
    recorder = RecordingAcks()
    recorder.fail = True
    pipeline = Pipeline(writer, recorder, flush_interval=0.01)
    await pipeline.add(_accepted("pc-1", 1, ["f v=1.0 1"]))
    await pipeline.add_own([b"own,collector=c v=2.0 2"])
    await _drain(pipeline)
    assert pipeline.stats.counters["acks_failed"] == 1 and pipeline.stats.counters["acks_sent"] == 0
    assert "ack of 1 batch(es) to agent pc-1 failed: ConnectionError: not connected" in caplog.text
    recorder.fail = False
    await pipeline.add(_accepted("pc-1", 1, ["f v=1.0 1"]))  # the agent sends it again: acked, not rewritten
    await writer.close()
    assert [(a, ack.ranges) for a, ack in recorder.sent] == [("pc-1", [(1, 1)])]
    assert pipeline.stats.counters["own_points"] == 1 and pipeline.stats.counters["points_written"] == 2
    assert server.rows('SELECT "v" FROM "own"', db)[0]["v"] == 2.0


async def test_a_sequence_number_reused_with_other_content_is_logged_and_not_written(
        influx: tuple[Influx, str], caplog: pytest.LogCaptureFixture) -> None:
    server, db = influx
    writer = V1Writer(InfluxSection(url=server.url, database=db))
    recorder = RecordingAcks()
    pipeline = Pipeline(writer, recorder, flush_interval=0.01)
    await pipeline.add(_accepted("pc-1", 9, ["r v=1.0 1"]))
    await pipeline.add(_accepted("pc-1", 9, ["r v=1.0 1"]))  # an honest resend: same content, no log line
    await _drain(pipeline)
    assert pipeline.stats.counters["seq_reused"] == 0 and "sequence number" not in caplog.text
    await pipeline.add(_accepted("pc-1", 9, ["r v=5.0 2"]))  # same number, other content
    await writer.close()
    assert pipeline.stats.counters["seq_reused"] == 1
    assert "agent pc-1 sent sequence number 9 again with different content" in caplog.text
    assert [r["v"] for r in server.rows('SELECT "v" FROM "r"', db)] == [1.0]
