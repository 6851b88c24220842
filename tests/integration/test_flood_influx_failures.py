"""One test per InfluxDB failure class, with real Mosquitto, InfluxDB (behind a failure-injecting proxy), collector
and agent processes: whatever InfluxDB answers, every honest point is stored and acked exactly once after the
failure clears, and nothing is quarantined (only a line's content may be)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.services import free_port
from tests.support.fleet import Fleet, assert_complete_and_ordered
from tests.support.flood import Metrics
from tests.support.influx_proxy import InfluxProxy, influx_proxy
from tests.support.services import Influx, wait_for

pytestmark = pytest.mark.integration

HONEST_POINTS = 10 * 5


def make_fleet(tmp_path: Path, mosquitto: int, server: Influx, db: str, influx_url: str,
               **extra: object) -> tuple[Fleet, Metrics]:
    port = free_port()
    fleet = Fleet(tmp_path, mosquitto, server, db)
    fleet.collector_extra = {
        "metrics_listen": f"127.0.0.1:{port}",
        "influx": {"url": influx_url, "database": db, "flush_interval": 0.05, "timeout": 1.0},
        **extra,
    }
    fleet.add_agent("pc-honest", rounds=10, points_per_round=5, interval="200ms")
    return fleet, Metrics(port)


@pytest.fixture
def proxied(influx: tuple[Influx, str]) -> Iterator[tuple[Influx, str, InfluxProxy]]:
    server, db = influx
    with influx_proxy(server.url) as proxy:
        yield server, db, proxy


def queued(fleet: Fleet) -> int:
    """Honest points waiting (unacked) in the agent's disk queue; 0 before the agent made its queue."""
    return len(fleet.queued_points("pc-honest")) if fleet.queue_state("pc-honest")[0] else 0


def honest_stored(fleet: Fleet) -> int:
    return sum(len(rows) for (agent, _), rows in fleet.stored().items() if agent == "pc-honest")


def assert_honest_complete(fleet: Fleet, metrics: Metrics) -> None:
    wait_for(lambda: honest_stored(fleet) == HONEST_POINTS and fleet.queue_state("pc-honest")[0] == 0, 90,
             what="every honest point stored and acked")
    honest = {k: v for k, v in fleet.stored().items() if k[0] == "pc-honest"}
    assert assert_complete_and_ordered(honest) == HONEST_POINTS  # each once, none lost

    def settled() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
        m = metrics.read()  # every message received was PUBACKed (or belonged to a closed connection)
        done = m[("messages_acked_total", ())] + m[("messages_stale_total", ())] + m[("messages_rejected_total", ())]
        return m if m[("messages_inflight", ())] == 0 and done == m[("messages_received_total", ())] else None

    m = wait_for(settled, 30, what="every message PUBACKed")
    assert not [k for k, v in m.items() if k[0] == "points_quarantined_total" and v]
    assert m[("messages_rejected_total", ())] == 0
    assert not (fleet.root / "collector" / "quarantine.jsonl").exists()


@pytest.mark.parametrize(("failure", "blocked"), [(401, "unauthorized"), (403, "forbidden"), (404, "not_found"),
                                                  (500, ""), (503, ""), ("timeout", "")])
def test_influxdb_failure_keeps_every_point_until_it_clears(tmp_path: Path, mosquitto: int,
                                                            proxied: tuple[Influx, str, InfluxProxy],
                                                            failure: int | str, blocked: str) -> None:
    server, db, proxy = proxied
    proxy.mode = failure
    fleet, metrics = make_fleet(tmp_path, mosquitto, server, db, proxy.url)
    try:
        fleet.start_collector()
        fleet.agents["pc-honest"].start()
        wait_for(lambda: queued(fleet) == HONEST_POINTS, 60,
                 what="the honest agent produced every point")
        wait_for(lambda: proxy.failed_writes() >= 3, 60, what="failed writes")
        if blocked:  # loud: a gauge names the reason
            wait_for(lambda: metrics.value("influx_write_blocked", reason=blocked) == 1, 30, what="the blocked gauge")
        assert fleet.stored_count() == 0
        assert metrics.value("messages_acked_total") == 0 and metrics.value("batches_written_total") == 0
        assert queued(fleet) == HONEST_POINTS  # no ack: the agent keeps everything
        proxy.mode = None
        assert_honest_complete(fleet, metrics)
        assert metrics.value("influx_write_blocked", reason=blocked) == 0
        log = (fleet.root / "collector" / "collector.log").read_text()
        if blocked:
            assert "InfluxDB refuses every write" in log and "quarantined" not in log
    finally:
        fleet.stop()


def test_influxdb_413_splits_writes_and_quarantines_nothing(tmp_path: Path, mosquitto: int,
                                                            proxied: tuple[Influx, str, InfluxProxy]) -> None:
    server, db, proxy = proxied
    proxy.mode = "too_large"
    proxy.max_body = 1200  # a few honest points per write at most
    fleet, metrics = make_fleet(tmp_path, mosquitto, server, db, proxy.url)
    try:
        fleet.start_collector()
        fleet.agents["pc-honest"].start()
        assert_honest_complete(fleet, metrics)
        assert any(status == 413 for status, _ in proxy.writes)
    finally:
        fleet.stop()
