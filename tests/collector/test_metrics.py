"""The collector's /metrics (prometheus_client) after real traffic: Mosquitto -> collector -> InfluxDB."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from pathlib import Path

import paho.mqtt.client as paho
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from agent import wire
from collector.config import load_config
from collector.consume import Collector
from devstack.services import free_port
from tests.support.services import Influx

pytestmark = pytest.mark.integration


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return str(r.read().decode())


def _config(tmp: Path, mqtt_port: int, influx: Influx, db: str, metrics_port: int) -> Path:
    (tmp / "fleet.yaml").write_text(yaml.safe_dump({"agents": {"pc-a": {"commune": "07900"}}}))
    cfg = tmp / "collector.yaml"
    cfg.write_text(yaml.safe_dump({
        "inventory": "fleet.yaml", "metrics_listen": f"127.0.0.1:{metrics_port}", "stats_interval": 60,
        "mqtt": {"port": mqtt_port, "client_id": f"collector-{db}"},
        "influx": {"url": influx.url, "database": db, "flush_interval": 0.01},
    }))
    return cfg


async def test_metrics_have_help_type_and_the_values_of_real_traffic(tmp_path: Path, mosquitto: int,
                                                                    influx: tuple[Influx, str]) -> None:
    server, db = influx
    metrics_port = free_port()
    cfg = load_config(_config(tmp_path, mosquitto, server, db, metrics_port))
    collector = Collector(cfg, tmp_path / "state")
    Collector(cfg, tmp_path / "other").metrics.render()  # a second instance in the same process is fine
    task = asyncio.create_task(collector.run())
    try:
        async with asyncio.timeout(30):
            while not collector.connected:
                await asyncio.sleep(0.05)
        before = time.time()
        pub = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="metrics-injector")
        pub.connect("127.0.0.1", mosquitto)
        pub.loop_start()
        good = wire.encode(wire.Batch(v=1, agent="pc-a", seq=1, sent=1, points=[
            wire.Point(m="synthetic", t=time.time_ns(), f={"value": 1.0}),
            wire.Point(m="synthetic", t=time.time_ns() + 1, f={"value": 2.0})]))
        for topic, payload in (("cm/v1/pc-a/metrics", good), ("cm/v1/pc-a/metrics", b"{"),
                               ("cm/v1/pc-x/metrics", good), ("cm/v1/pc-a/metrics", b'{"v":7}')):
            await asyncio.to_thread(lambda t=topic, p=payload: pub.publish(t, p, qos=1).wait_for_publish(10))
        pub.loop_stop()
        pub.disconnect()
        async with asyncio.timeout(30):
            while collector.pipeline.stats.counters["acks_sent"] < 1 or collector.received < 4:
                await asyncio.sleep(0.05)
        text = await asyncio.to_thread(_scrape, metrics_port)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    families = {f.name: f for f in text_string_to_metric_families(text)}
    for family in families.values():  # HELP and TYPE for every metric
        assert family.documentation, family.name
        assert family.type in ("counter", "gauge", "histogram"), family.name
        exposed = family.name + ("_total" if family.type == "counter" else "")
        assert f"# HELP {exposed} " in text and f"# TYPE {exposed} {family.type}\n" in text
    expected_counters = {"received", "batches_accepted", "points_accepted", "points_written", "batches_written",
                         "acks_sent", "acks_failed", "write_errors", "points_quarantined", "duplicates_dropped",
                         "duplicates_reacked", "own_points", "rejected", "clock_skewed", "seq_reused",
                         "quarantine_dropped", "messages_received", "messages_acked", "messages_rejected",
                         "messages_stale", "messages_read_pauses", "log_suppressed", "points_rejected",
                         "agents_blocked", "agents_unblocked", "block_apply_errors", "agent_messages", "mqtt_connects"}
    expected_gauges = {"pending_points", "pending_batches", "mqtt_connected", "agent_last_seen_seconds",
                       "influx_write_blocked", "messages_inflight", "messages_inflight_peak", "agent_series",
                       "agent_blocked"}
    assert {n for n, f in families.items() if f.type == "counter"} == {f"commune_collector_{n}" for n in expected_counters}
    assert {n for n, f in families.items() if f.type == "gauge"} == {f"commune_collector_{n}" for n in expected_gauges}
    assert {n for n, f in families.items() if f.type == "histogram"} == {"commune_collector_influx_write_seconds"}

    def value(name: str, **labels: str) -> float:
        return next(s.value for f in families.values() for s in f.samples if s.name == name and s.labels == labels)

    assert value("commune_collector_received_total") == 4
    assert value("commune_collector_batches_accepted_total") == 1
    assert value("commune_collector_points_written_total") == 2
    assert value("commune_collector_batches_written_total") == 1 and value("commune_collector_acks_sent_total") == 1
    assert value("commune_collector_acks_failed_total") == 0
    assert value("commune_collector_rejected_total", agent="pc-a", reason="malformed") == 1
    assert value("commune_collector_rejected_total", agent="pc-a", reason="bad_version") == 1
    assert value("commune_collector_rejected_total", agent="pc-x", reason="unknown_agent") == 1
    assert value("commune_collector_pending_points") == 0 and value("commune_collector_mqtt_connected") == 1
    # every message is counted from receipt to PUBACK: one written, three finally rejected, none in flight
    assert value("commune_collector_messages_received_total") == 4
    assert value("commune_collector_messages_acked_total") == 1
    assert value("commune_collector_messages_rejected_total") == 3
    assert value("commune_collector_messages_inflight") == 0
    assert value("commune_collector_agent_series", agent="pc-a") == 1
    assert before <= value("commune_collector_agent_last_seen_seconds", agent="pc-a") <= time.time()
    assert not [s for s in families["commune_collector_agent_last_seen_seconds"].samples if s.labels["agent"] == "pc-x"]
    assert server.rows('SELECT count("value") FROM "synthetic"', db)[0]["count"] == 2
