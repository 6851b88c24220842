"""No measurement is lost: outages of the broker, InfluxDB, the collector and the agent (real processes)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack import services as stack
from tests.support.fleet import Fleet, assert_complete_and_ordered
from tests.support.services import Influx, need_binary, start_influx, start_mosquitto, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[tuple[stack.Service, int]]:
    need_binary("mosquitto")
    svc, port = start_mosquitto(tmp_path / "mosquitto")
    yield svc, port
    svc.stop()


@pytest.fixture
def fleet(tmp_path: Path, broker: tuple[stack.Service, int], influx: tuple[Influx, str]) -> Iterator[Fleet]:
    f = Fleet(tmp_path / "fleet", broker[1], influx[0], influx[1])
    yield f
    f.stop()


def _expect_all(fleet: Fleet, expected: int, timeout: float = 90) -> None:
    wait_for(lambda: fleet.stored_count() >= expected, timeout, 0.3, what=f"{expected} points in InfluxDB")


def test_broker_restart_under_load_loses_nothing(fleet: Fleet, broker: tuple[stack.Service, int]) -> None:
    svc, _ = broker
    rounds, per_round = 120, 50
    for i in range(3):
        fleet.add_agent(f"pc-load-{i}", rounds=rounds, points_per_round=per_round)
    fleet.start_collector()
    for a in fleet.agents.values():
        a.start()
    wait_for(lambda: fleet.stored_count() > 500, 30, what="first points")
    svc.stop()  # the broker goes away while agents keep producing
    wait_for(lambda: all(fleet.queue_state(a)[0] >= 10 for a in fleet.agents), 30,
             what="agents queueing on disk while the broker is down")
    svc.start()
    expected = 3 * rounds * per_round
    _expect_all(fleet, expected)
    stored = fleet.stored()
    assert len(stored) == 3
    assert assert_complete_and_ordered(stored) == expected
    # every batch holding synthetic points was acked and left the disk queues
    wait_for(lambda: all(not fleet.queued_points(a) for a in fleet.agents), 60, what="queues drained by acks")


def test_influxdb_restart_loses_nothing(tmp_path: Path, broker: tuple[stack.Service, int]) -> None:
    need_binary("influxd")
    own = start_influx(tmp_path / "influx-own")  # our own server: this test stops it
    fleet = Fleet(tmp_path / "fleet", broker[1], own, "restart")
    try:
        own.create("restart")
        metrics_port = stack.free_port()
        fleet.collector_extra = {"metrics_listen": f"127.0.0.1:{metrics_port}"}
        rounds, per_round = 100, 20
        fleet.add_agent("pc-influx-0", rounds=rounds, points_per_round=per_round)
        fleet.start_collector()
        fleet.agents["pc-influx-0"].start()
        wait_for(lambda: fleet.stored_count() > 100, 30, what="first points")
        own.service.stop()
        # no acks while InfluxDB is down: the agent's disk queue grows
        wait_for(lambda: fleet.queue_state("pc-influx-0")[0] >= 10, 30, what="agent queue growing")
        # the collector's own depth metric rises, readable while InfluxDB is down
        wait_for(lambda: _metric(metrics_port, "commune_collector_pending_points") > 50, 30,
                 what="pending_points rising on /metrics")
        assert _metric(metrics_port, "commune_collector_write_errors_total") >= 1
        own.service.start()
        _expect_all(fleet, rounds * per_round)
        assert assert_complete_and_ordered(fleet.stored()) == rounds * per_round
        log = (fleet.root / "collector" / "collector.log").read_text()
        assert "write failed" in log  # the collector saw the outage and retried
    finally:
        fleet.stop()
        own.service.stop()


def _metric(port: int, name: str) -> float:
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and not sample.labels:
                return float(sample.value)
    raise AssertionError(f"{name} is not on /metrics")


def test_collector_sigkill_loses_nothing(fleet: Fleet) -> None:
    rounds, per_round = 100, 20
    fleet.add_agent("pc-ck-0", rounds=rounds, points_per_round=per_round)
    fleet.add_agent("pc-ck-1", rounds=rounds, points_per_round=per_round)
    collector = fleet.start_collector()
    for a in fleet.agents.values():
        a.start()
    wait_for(lambda: fleet.stored_count() > 200, 30, what="first points")
    collector.kill()
    wait_for(lambda: all(fleet.queue_state(a)[0] >= 5 for a in fleet.agents), 30, what="agents queueing")
    fleet.start_collector()
    _expect_all(fleet, 2 * rounds * per_round)
    assert assert_complete_and_ordered(fleet.stored()) == 2 * rounds * per_round


def test_agent_sigkill_keeps_its_queue(fleet: Fleet, broker: tuple[stack.Service, int]) -> None:
    svc, _ = broker
    agent = fleet.add_agent("pc-kill-0", rounds=60, points_per_round=10)
    fleet.start_collector()
    svc.stop()  # nothing can be acked: everything the agent produces stays in its queue
    agent.start()
    wait_for(lambda: fleet.queue_state("pc-kill-0")[0] >= 20, 30, what="batches queued")
    agent.kill()
    queued = fleet.queued_points("pc-kill-0")
    assert len(queued) >= 100
    svc.start()
    agent.start()  # the restarted agent sends what the killed one had queued

    def all_arrived() -> bool:
        have = {(run, n) for (_, run), rows in fleet.stored().items() for _, n in rows}
        return queued <= have

    wait_for(all_arrived, 60, 0.3, what="every queued point of the killed agent")


def test_queue_overflow_drops_oldest_and_counts(fleet: Fleet, broker: tuple[stack.Service, int]) -> None:
    svc, _ = broker
    per_round = 49  # + the agent_probe point = 50 = one batch per round
    fleet.add_agent("pc-full-0", rounds=80, points_per_round=per_round, interval="50ms",
                    queue={"max_bytes": 60_000, "max_points_per_batch": 50, "flush_interval": "10s"})
    fleet.start_collector()
    svc.stop()
    fleet.agents["pc-full-0"].start()
    wait_for(lambda: fleet.queue_state("pc-full-0")[1] > 0 and _rounds_done(fleet) >= 80, 60,
             what="all rounds produced and some batches dropped")
    depth, _ = fleet.queue_state("pc-full-0")
    svc.start()
    wait_for(lambda: not fleet.queued_points("pc-full-0"), 60, what="queue drained")
    dropped = fleet.queue_state("pc-full-0")[1]  # final count: nothing is produced any more
    stored = fleet.stored()
    assert len(stored) == 1
    ns = [n for _, n in next(iter(stored.values()))]
    missing = sorted(set(range(1, 80 * per_round + 1)) - set(ns))
    assert missing == list(range(1, len(missing) + 1)), "only the oldest points may be missing"
    assert len(missing) == dropped * per_round  # every dropped batch was counted, nothing else lost
    assert ns == list(range(len(missing) + 1, 80 * per_round + 1))
    assert depth > 0


def _rounds_done(fleet: Fleet) -> int:
    """Rounds the agent produced so far: the highest n in its queue / points per round."""
    try:
        pts = fleet.queued_points("pc-full-0")
    except Exception:
        return 0
    return max((n for _, n in pts), default=0) // 49


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    import subprocess

    mnt = tmp_path / "tiny"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=192k", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        if os.geteuid() != 0:
            pytest.skip(f"needs root to mount a small tmpfs: {r.stderr.strip()}")
        pytest.fail(f"cannot mount a small tmpfs as root: {r.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_disk_is_a_clear_error_and_the_agent_keeps_running(fleet: Fleet, broker: tuple[stack.Service, int],
                                                              tiny_disk: Path) -> None:
    svc, _ = broker
    agent = fleet.add_agent("pc-disk-0", rounds=0, points_per_round=40, interval="50ms",
                            queue={"path": str(tiny_disk / "queue.sqlite"), "max_bytes": "64MiB"})
    fleet.start_collector()
    svc.stop()
    agent.start()
    log = fleet.root / "pc-disk-0" / f"{agent.name}.log"
    wait_for(lambda: "cannot store batch" in log.read_text(), 60, 0.2, what="the full-disk error in the agent log")
    assert "database or disk is full" in log.read_text()
    assert agent.pid() is not None  # still running
    svc.start()
    before = fleet.stored_count()
    wait_for(lambda: fleet.stored_count() > before + 200, 60, 0.3, what="new points flowing after the disk filled")
    assert agent.pid() is not None
