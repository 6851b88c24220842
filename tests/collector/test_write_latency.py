"""InfluxDB's write latency (histogram on /metrics, fields of the ``collector`` measurement) and the agent's
version in ``agent_status``: real InfluxDB, the collector's own message handling and pipeline."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from agent import wire
from collector.config import load_config
from collector.consume import Collector
from collector.write_latency import BUCKETS, WriteLatency
from tests.support.services import Influx, wait_for


def test_buckets_are_cumulative_and_the_window_restarts_after_each_stats_line() -> None:
    lat = WriteLatency()
    assert lat.take_window() == {}  # no write: no latency fields (not a misleading 0)
    for s in (0.003, 0.02, 0.02, 0.7, 45.0):
        lat.observe(s)
    buckets = dict(lat.cumulative())
    assert buckets["0.005"] == 1 and buckets["0.025"] == 3 and buckets["0.5"] == 3 and buckets["1.0"] == 4
    assert buckets["30.0"] == 4 and buckets["+Inf"] == 5 == lat.count
    assert list(buckets) == [*(repr(b) for b in BUCKETS), "+Inf"]
    assert lat.total_seconds == pytest.approx(45.743)
    assert lat.take_window() == {"write_latency_mean_ms": pytest.approx(9148.6), "write_latency_max_ms": 45000.0}
    lat.observe(0.01)
    assert lat.take_window() == {"write_latency_mean_ms": 10.0, "write_latency_max_ms": 10.0}
    assert dict(lat.cumulative())["+Inf"] == 6  # the histogram itself never restarts


@pytest.mark.integration
async def test_status_version_and_write_latency_reach_influxdb_and_metrics(tmp_path: Path,
                                                                           influx: tuple[Influx, str]) -> None:
    server, db = influx
    (tmp_path / "fleet.yaml").write_text(yaml.safe_dump({"agents": {"pc-a": {"commune": "07900"}}}))
    (tmp_path / "collector.yaml").write_text(yaml.safe_dump({
        "inventory": "fleet.yaml", "influx": {"url": server.url, "database": db, "flush_interval": 0.01}}))
    collector = Collector(load_config(tmp_path / "collector.yaml"), tmp_path / "state")
    written: list[bool] = []
    task = asyncio.create_task(collector.pipeline.run())
    try:
        for state, version in (("online", "1.4.2"), ("offline", "")):
            await collector.handle("cm/v1/pc-a/status", wire.encode(wire.Status(v=1, state=state, version=version)),
                                   written.append)
            async with asyncio.timeout(30):
                while len(written) < (1 if state == "online" else 2):
                    await asyncio.sleep(0.02)
        assert written == [False, False]  # written, not rejected
        fields = collector.stats_line_fields()
        line = collector.encoder.line("collector", {"collector": "c1"}, fields, 1_000_000_000)
        await collector.pipeline.add_own([line.encode()])
        async with asyncio.timeout(30):
            while collector.pipeline.pending_points:
                await asyncio.sleep(0.02)
        text = collector.metrics.render().decode()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await collector.influx.close()

    rows = server.rows('SELECT "state", "version" FROM "agent_status" WHERE "agent" = \'pc-a\' ORDER BY time', db)
    assert [(r["state"], r["version"]) for r in rows] == [("online", "1.4.2"), ("offline", None)]
    # the stats line carries the latency of the two status writes before it
    assert 0 < fields["write_latency_mean_ms"] <= fields["write_latency_max_ms"] < 30_000
    row = wait_for(lambda: server.rows('SELECT * FROM "collector"', db) or None, 10, what="collector point")[0]
    assert row["write_latency_max_ms"] == pytest.approx(fields["write_latency_max_ms"])
    hist = {f.name: f for f in text_string_to_metric_families(text)}["commune_collector_influx_write_seconds"]
    samples = {(s.name, s.labels.get("le", "")): s.value for s in hist.samples}
    assert hist.type == "histogram"
    assert samples[("commune_collector_influx_write_seconds_count", "")] == 3  # two statuses and the stats line
    assert samples[("commune_collector_influx_write_seconds_bucket", "+Inf")] == 3
    assert 0 < samples[("commune_collector_influx_write_seconds_sum", "")] < 90
