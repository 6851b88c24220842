"""An honest agent beside a hostile one (in the inventory, with its own identity), with real Mosquitto, InfluxDB
and collector processes: the hostile agent's floods hit its own limits, and the honest agent loses nothing.
Also: InfluxDB down under a flood: the broker keeps what the collector cannot take (MQTT 5 flow control)."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.services import free_port
from tests.integration.test_flood_influx_failures import HONEST_POINTS, assert_honest_complete, make_fleet
from tests.support.fleet import Fleet
from tests.support.flood import HostileAgent, Metrics, cardinality_points, rate_points
from tests.support.services import Influx, need_binary, start_influx, wait_for

pytestmark = pytest.mark.integration


def _with_hostile(fleet: Fleet) -> None:
    fleet.inventory["pc-hostile"] = {"commune": "05089", "site": "diem-2"}


def _hostile_stored(server: Influx, db: str) -> int:
    rows = server.query('SELECT count("n") FROM "synthetic" WHERE "agent" = \'pc-hostile\'', db)
    return int(rows[0]["values"][0][1]) if rows else 0


def test_cardinality_flood_hits_the_series_limit_and_the_honest_agent_loses_nothing(
        tmp_path: Path, mosquitto: int, influx: tuple[Influx, str]) -> None:
    server, db = influx
    fleet, metrics = make_fleet(tmp_path, mosquitto, server, db, server.url,
                                limits={"max_series": 200, "new_series_per_hour": 100_000})
    _with_hostile(fleet)
    hostile = None
    try:
        fleet.start_collector()
        fleet.agents["pc-honest"].start()
        wait_for(lambda: metrics.value("mqtt_connected") == 1, 30, what="the collector connected")
        hostile = HostileAgent(mosquitto)
        for seq in range(1, 41):  # 40 x 30 points, every point a new series with long emoji tags
            hostile.send(seq, cardinality_points(seq))
        wait_for(lambda: len(hostile.acked_seqs()) == 40, 60, what="every hostile batch acked (rejection is final)")
        assert set(hostile.acked_seqs().values()) == {1}
        assert_honest_complete(fleet, metrics)
        series = server.query('SHOW SERIES FROM "synthetic" WHERE "agent" = \'pc-hostile\'', db)
        assert len(series[0]["values"]) == 200  # exactly the allowed number, nothing more reached InfluxDB
        assert _hostile_stored(server, db) == 200
        m = metrics.read()
        assert m[("points_rejected_total", (("agent", "pc-hostile"), ("reason", "series_limit")))] == 40 * 30 - 200
        assert not [k for k, v in m.items() if k[0] == "points_rejected_total" and ("agent", "pc-honest") in k[1]]
        assert m[("agent_series", (("agent", "pc-hostile"),))] == 200
        honest_series = [k for [k] in server.query('SHOW SERIES WHERE "agent" = \'pc-honest\'', db)[0]["values"]
                         if not k.startswith(("agent_clock,", "agent_status,"))]  # those are the collector's own
        assert m[("agent_series", (("agent", "pc-honest"),))] == len(honest_series) >= 5
    finally:
        if hostile:
            hostile.close()
        fleet.stop()


def test_rate_flood_is_rate_limited_and_the_honest_agent_loses_nothing(tmp_path: Path, mosquitto: int,
                                                                       influx: tuple[Influx, str]) -> None:
    server, db = influx
    # the honest agent sends 50 points in ~2 s: well inside the burst; the flood sends 3,000 at once
    fleet, metrics = make_fleet(tmp_path, mosquitto, server, db, server.url,
                                limits={"points_per_second": 20, "burst_points": 300})
    _with_hostile(fleet)
    hostile = None
    try:
        fleet.start_collector()
        fleet.agents["pc-honest"].start()
        wait_for(lambda: metrics.value("mqtt_connected") == 1, 30, what="the collector connected")
        hostile = HostileAgent(mosquitto)
        for seq in range(1, 31):
            hostile.send(seq, rate_points(seq))
        wait_for(lambda: len(hostile.acked_seqs()) == 30, 60, what="every hostile batch acked")
        assert set(hostile.acked_seqs().values()) == {1}
        assert_honest_complete(fleet, metrics)
        # refused after decoding (points counted) or, once the bucket is empty, unread (batches counted)
        limited = metrics.value("points_rejected_total", agent="pc-hostile", reason="rate_limited")
        limited += 100 * metrics.value("rejected_total", agent="pc-hostile", reason="rate_limited")
        assert 0 < limited < 3000 and limited % 100 == 0  # whole batches
        assert _hostile_stored(server, db) == 3000 - limited
        assert metrics.value("points_rejected_total", agent="pc-honest", reason="rate_limited") == 0
        assert metrics.value("rejected_total", agent="pc-honest", reason="rate_limited") == 0
        assert fleet.stored_count() == HONEST_POINTS + 3000 - limited
    finally:
        if hostile:
            hostile.close()
        fleet.stop()


def test_influxdb_down_under_a_flood_the_broker_keeps_everything(tmp_path: Path, mosquitto: int) -> None:
    need_binary("influxd")
    own = start_influx(tmp_path / "influx")  # our own server: this test stops it
    port = free_port()
    fleet = Fleet(tmp_path, mosquitto, own, "flow")
    fleet.inventory["pc-burst"] = {"commune": "07900"}
    fleet.mqtt_extra = {"receive_maximum": 20}
    fleet.collector_extra = {"metrics_listen": f"127.0.0.1:{port}",
                             "influx": {"url": own.url, "database": "flow", "flush_interval": 0.05, "timeout": 2.0,
                                        "max_pending_points": 1000}}
    metrics = Metrics(port)
    burst = None
    try:
        fleet.start_collector()
        wait_for(lambda: metrics.value("mqtt_connected") == 1, 30, what="the collector connected")
        own.service.stop()
        burst = HostileAgent(mosquitto, "pc-burst")
        for seq in range(1, 61):  # 60 x 100 points: more than Receive Maximum (20) + the pending limit (1,000)
            burst.send(seq, rate_points(seq))
        wait_for(lambda: metrics.value("messages_inflight") == 20, 30, what="Receive Maximum reached")
        wait_for(lambda: metrics.value("write_errors_total") >= 2, 30, what="failed writes")
        assert metrics.value("messages_inflight_peak") == 20
        assert metrics.value("messages_received_total") == 20  # the broker holds the other 40
        assert metrics.value("messages_acked_total") == 0 and not burst.acked_seqs()
        own.service.start()
        wait_for(lambda: len(burst.acked_seqs()) == 60, 120, what="every batch acked")
        assert set(burst.acked_seqs().values()) == {1}  # each exactly once
        wait_for(lambda: metrics.value("messages_acked_total") == 60, 30, what="every message PUBACKed")
        rows = own.query('SELECT count("n") FROM "synthetic"', "flow")
        assert rows[0]["values"][0][1] == 6000
        # while nothing was PUBACKed the broker kept to Receive Maximum exactly (asserted above). Once PUBACKs flow,
        # Mosquitto 2.0.11 sends beyond it; the collector then stops reading the socket, after at most one paho
        # read (one packet + one per unacked outgoing ack publish, paho's max_inflight_messages = 20)
        assert metrics.value("messages_inflight_peak") <= 20 + 20 + 1
        assert metrics.value("messages_received_total") == 60
        assert metrics.value("duplicates_dropped_total") == 0 and metrics.value("messages_rejected_total") == 0
    finally:
        if burst:
            burst.close()
        fleet.stop()
        own.service.stop()


def test_a_collector_crash_loses_no_delivered_message(tmp_path: Path, mosquitto: int,
                                                      influx: tuple[Influx, str]) -> None:
    from tests.support.influx_proxy import influx_proxy

    server, db = influx
    with influx_proxy(server.url) as proxy:
        proxy.mode = 503
        port = free_port()
        fleet = Fleet(tmp_path, mosquitto, server, db)
        fleet.inventory["pc-burst"] = {"commune": "07900"}
        fleet.collector_extra = {"metrics_listen": f"127.0.0.1:{port}",
                                 "influx": {"url": proxy.url, "database": db, "flush_interval": 0.05, "timeout": 2.0}}
        metrics = Metrics(port)
        burst = None
        try:
            collector = fleet.start_collector()
            wait_for(lambda: metrics.value("mqtt_connected") == 1, 30, what="the collector connected")
            burst = HostileAgent(mosquitto, "pc-burst")  # sends once and never again: only the broker can resend
            for seq in range(1, 31):
                burst.send(seq, rate_points(seq, 10))
            wait_for(lambda: metrics.value("messages_received_total") == 30, 30, what="all delivered to the collector")
            collector.kill()  # delivered, not yet written: a crash
            proxy.mode = None
            fleet.start_collector()
            wait_for(lambda: len(burst.acked_seqs()) == 30, 60, what="every batch written and acked after the restart")
            assert set(burst.acked_seqs().values()) == {1}
            rows = server.query('SELECT count("n") FROM "synthetic"', db)
            assert rows[0]["values"][0][1] == 300
        finally:
            if burst:
                burst.close()
            fleet.stop()
