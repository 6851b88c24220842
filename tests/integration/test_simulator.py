"""A small simulated province through the real broker (per-agent passwords and the generated ACL), the real
collector and InfluxDB: a scheduled site-link cut shows exactly in its window, and a backfilled past hour
lands with the agents' own timestamps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from agent.simulate.command import read_secrets
from agent.simulate.engine import Simulation
from agent.simulate.fleet import Fleet, build_fleet, write_fleet
from agent.simulate.scenario import Scenario, parse_scenario
from collector import broker
from collector.simfleet import simulate_fleet
from devstack.services import free_port
from tests.support.fleet import Fleet as Stack
from tests.support.services import Influx, need_binary, start_mosquitto, wait_for

pytestmark = pytest.mark.integration
NS = 10**9
COLLECTOR_PASSWORD = "collector-secret"


@dataclass
class Province:
    sc: Scenario
    fleet: Fleet
    secrets: dict[str, str]
    port: int
    stack: Stack

    def simulation(self) -> Simulation:
        return Simulation(self.sc, self.fleet, self.secrets, "127.0.0.1", self.port, ack_timeout=5.0)


def _province(tmp_path: Path, influx: tuple[Influx, str], scenario: dict[str, object]) -> Iterator[Province]:
    need_binary("mosquitto")
    sc = parse_scenario({"communes": 5, "pcs_per_site": 1, "seed": 5, **scenario}, "test scenario")
    fleet = build_fleet(sc)
    d = tmp_path / "broker"
    write_fleet(fleet, d / "sim-fleet.yaml")
    inv, passwd, acl, secrets = d / "fleet.yaml", d / "passwd", d / "acl", d / "sim-secrets.yaml"
    n, _ = simulate_fleet(d / "sim-fleet.yaml", inv, passwd, acl, secrets, COLLECTOR_PASSWORD)
    assert n == len(fleet.agents)
    port = free_port()
    svc, _ = start_mosquitto(d / "mosq", extra_conf=broker.listener_conf(port, passwd, acl) + "user root\n",
                             anonymous=False, port=port, plain_listener=False)
    server, db = influx
    stack = Stack(tmp_path / "fleet", port, server, db,
                  mqtt_extra={"username": "collector", "password": COLLECTOR_PASSWORD})
    stack.inventory = yaml.safe_load(inv.read_text())["agents"]
    stack.start_collector()
    try:
        yield Province(sc, fleet, read_secrets(secrets), port, stack)
    finally:
        stack.stop()
        svc.stop()


def test_site_link_down_shows_exactly_in_its_window(tmp_path: Path, influx: tuple[Influx, str]) -> None:
    server, db = influx
    probe = parse_scenario({"communes": 5, "seed": 5}, "probe")
    cut = build_fleet(probe).sites[0]  # the first commune's main site
    gen = _province(tmp_path, influx, {"interval": "1s", "faults": [
        {"kind": "site_link_down", "commune": cut.commune, "site": cut.name, "start": "+3s", "end": "+6s"}]})
    prov = next(gen)
    try:
        sim = prov.simulation()
        report = asyncio.run(sim.live(duration=9.0, drain_timeout=60.0))
        assert report.rounds >= 9 and sim.totals.connect_failures == 0
        assert sim.totals.acked == sim.totals.batches  # every batch acked: nothing lost while the link was cut
        gw_cut = f"sim-{cut.commune}-1-gw"
        rows = wait_for(lambda: (r := server.rows(
            f"SELECT ok FROM ping WHERE agent='{gw_cut}' AND \"role\"='datacentre'", db)) and len(r) >= report.rounds
            and r, timeout=60, what="every round of the cut site in InfluxDB")
        origin = min(int(r["time"]) for r in rows)
        start, end = origin + 3 * NS, origin + 6 * NS
        assert [r["ok"] for r in rows] == [0 if start <= int(r["time"]) < end else 1 for r in rows]
        assert sum(1 for r in rows if r["ok"] == 0) == 3
        # the same rounds of every other site are fine, and its LAN (ping to its router) never failed
        others = server.rows(f"SELECT ok FROM ping WHERE agent!='{gw_cut}' AND \"role\"='datacentre' "
                             f"AND agent=~/-gw$/", db)
        assert others and all(r["ok"] == 1 for r in others)
        lan = server.rows(f"SELECT ok FROM ping WHERE agent='{gw_cut}' AND \"role\"='gateway'", db)
        assert lan and all(r["ok"] == 1 for r in lan)
        # every gateway of the province reported every round; identity and place come from the inventory
        gws = [a for a in prov.fleet.agents if a.role == "gateway"]
        counts = server.rows("SELECT count(cpu_percent) FROM host GROUP BY agent, commune, site", db)
        got = {r["agent"]: (r["count"], r["commune"], r["site"]) for r in counts}
        for a in gws:
            assert got[a.agent_id] == (report.rounds, a.site.commune, a.site.name)
        # the cut site's agents went offline and came back (two online sessions); the others stayed connected
        states = wait_for(lambda: [r["state"] for r in server.rows(
            f"SELECT state FROM agent_status WHERE agent='{gw_cut}'", db)] or None, what="status of the cut site")
        assert states[:3] == ["online", "offline", "online"]
        steady = server.rows(f"SELECT state FROM agent_status WHERE agent='{gws[-1].agent_id}'", db)
        assert [r["state"] for r in steady][:1] == ["online"] and "offline" not in [r["state"] for r in steady][:-1]
    finally:
        next(gen, None)


def test_backfill_of_a_past_hour_lands_with_agent_timestamps(tmp_path: Path, influx: tuple[Influx, str]) -> None:
    server, db = influx
    gen = _province(tmp_path, influx, {"interval": "1m", "faults": [
        {"kind": "portal_outage", "service": "dvc-phutho", "start": "+20m", "end": "+30m"}]})
    prov = next(gen)
    try:
        sim = prov.simulation()

        end = (time.time_ns() // (60 * NS)) * 60 * NS
        start = end - 3600 * NS
        report = asyncio.run(sim.backfill(start, end))
        assert report.rounds == 60 and sim.totals.acked == sim.totals.batches
        gw = next(a for a in prov.fleet.agents if a.role == "gateway").agent_id
        rows = wait_for(lambda: (r := server.rows(
            f"SELECT status_code FROM http WHERE agent='{gw}' AND service='dvc-phutho' AND time >= {start} "
            f"AND time < {end}", db)) and len(r) == 60 and r, timeout=60, what="the backfilled hour in InfluxDB")
        times = [int(r["time"]) for r in rows]
        assert times == list(range(start, end, 60 * NS))  # the agents' timestamps, one per round
        assert [r["status_code"] for r in rows] == [503 if start + 1200 * NS <= t < start + 1800 * NS else 200
                                                     for t in times]
    finally:
        next(gen, None)
