"""The simulated fleet and its measurements: deterministic from the seed, valid for the collector, and the
scenario's faults change exactly the measurements they should, exactly within their window."""

from __future__ import annotations

from datetime import datetime

import pytest

from agent import wire
from agent.simulate.fleet import build_fleet
from agent.simulate.model import VN, AgentModel, portals
from agent.simulate.scenario import parse_scenario
from collector.schema_check import SchemaChecker

NS = 10**9
ALL_FAULTS = [
    {"kind": "site_link_down", "commune": "07900", "site": "tru-so-chinh", "start": "+1h", "end": "+2h"},
    {"kind": "isp_outage", "isp": "viettel", "start": "+3h", "end": "+4h"},
    {"kind": "portal_outage", "service": "dvc-phutho", "start": "+5h", "end": "+6h"},
    {"kind": "token_removed", "commune": "07900", "start": "+7h", "end": "+8h"},
    {"kind": "certificate_expiring", "commune": "07900", "days_left": 0.5, "start": "+9h", "end": "+23h"},
    {"kind": "router_reboot", "commune": "07900", "site": "tru-so-chinh", "start": "+21h", "end": "+21h05m"},
    {"kind": "clock_off", "agent": "sim-07900-1-pc01", "offset_s": -600, "start": "+22h", "end": "+23h"},
]
MONDAY = round(datetime(2026, 11, 23, 0, 0, tzinfo=VN).timestamp()) * NS  # Monday 00:00 in Vietnam


def scenario(**kw: object) -> object:
    return parse_scenario({"only": ["07900", "08740"], "pcs_per_site": 2, "seed": 3, "interval": "5m", **kw}, "t")


def models(**kw: object) -> list[AgentModel]:
    sc = scenario(**kw)
    fleet = build_fleet(sc)  # type: ignore[arg-type]
    return [AgentModel(a, sc, sc.windows(MONDAY), portals()) for a in fleet.agents]  # type: ignore[attr-defined]


def by_id(ms: list[AgentModel]) -> dict[str, AgentModel]:
    return {m.agent.agent_id: m for m in ms}


def test_the_whole_province_with_multi_site_communes() -> None:
    fleet = build_fleet(parse_scenario({"pcs_per_site": 1}, "t"))
    communes = {s.commune for s in fleet.sites}
    assert len(communes) == 148
    multi = [c for c in communes if sum(s.commune == c for s in fleet.sites) > 1]
    assert len(multi) == 99  # the province's share with the default seed
    gateways = [a for a in fleet.agents if a.role == "gateway"]
    assert len(gateways) == len(fleet.sites) and len(fleet.agents) == 2 * len(fleet.sites)
    inv = fleet.inventory()
    assert all(wire.is_valid_agent_id(a) for a in inv)
    assert inv[gateways[0].agent_id]["role"] == "gateway"


def test_same_seed_same_fleet_and_points_other_seed_differs() -> None:
    a, b, c = models(), models(), models(seed=4)
    assert [m.agent for m in a] == [m.agent for m in b]
    t = MONDAY + 10 * 3600 * NS
    assert [m.points(t) for m in a] == [m.points(t) for m in b]
    assert [m.agent for m in a] != [m.agent for m in c]


def test_every_point_of_every_fault_passes_the_collector_schema() -> None:
    checker = SchemaChecker(wire.measurement_schema())
    seen: set[str] = set()
    results: set[str] = set()
    for m in models(faults=ALL_FAULTS):
        for t in range(MONDAY, MONDAY + 24 * 3600 * NS, 5 * 60 * NS):
            if not m.powered(t):
                continue
            points = m.points(t)
            batch = wire.decode_batch(wire.encode(wire.Batch(v=1, agent=m.agent.agent_id, seq=1, sent=t, points=points)))
            for p in batch.points:
                checker.fields(p)  # raises PointRejected for anything the collector would refuse
                seen.add(p.m)
                results.add(str(p.f.get("result", "")))
    assert seen == {"host", "ping", "http", "snmp_device", "token", "token_cert", "agent", "agent_probe"}
    assert {"ok", "unreachable", "connect_timeout", "http_status", "no_token", "timeout", "uplink_down"} <= results


def test_office_pcs_follow_vietnam_office_hours_gateways_never_sleep() -> None:
    ms = by_id(models())
    pc, gw = ms["sim-07900-1-pc01"], ms["sim-07900-1-gw"]
    at = lambda h, day=0: MONDAY + (day * 24 + h) * 3600 * NS  # noqa: E731
    assert pc.powered(at(10)) and pc.powered(at(15))
    assert not pc.powered(at(3)) and not pc.powered(at(21)) and not pc.powered(at(10, day=6))  # night, Sunday
    assert all(gw.powered(at(h, d)) for h in range(24) for d in range(7))


def _get(points: list[wire.Point], m: str, **tags: str) -> wire.Point:
    return next(p for p in points if p.m == m and all(p.tg.get(k) == v for k, v in tags.items()))


@pytest.mark.parametrize("hour", [0.5, 1.0, 1.5, 2.0])
def test_site_link_down_fails_exactly_in_its_window(hour: float) -> None:
    ms = by_id(models(faults=ALL_FAULTS[:1]))
    t = MONDAY + round(hour * 3600) * NS
    inside = 1 <= hour < 2
    gw = ms["sim-07900-1-gw"]
    pts = gw.points(t)
    assert _get(pts, "ping", role="datacentre").f["ok"] == (0 if inside else 1)
    assert _get(pts, "ping", role="gateway").f["ok"] == 1  # the LAN still works
    assert _get(pts, "http", service="dvc-phutho").f["ok"] == (0 if inside else 1)
    assert gw.reachable(t) is not inside
    other = next(m for m in ms.values() if m.agent.site.commune == "08740")
    assert _get(other.points(t), "ping", role="datacentre").f["ok"] == 1


def test_each_fault_shows_where_it_should() -> None:
    ms = by_id(models(faults=ALL_FAULTS))
    gw = ms["sim-07900-1-gw"]
    pc = next(m for m in ms.values() if m.agent.site.commune == "07900" and m.agent.has_token)
    h = lambda x: MONDAY + round(x * 3600) * NS  # noqa: E731
    # portal outage: that portal only, everywhere
    pts = gw.points(h(5.5))
    assert _get(pts, "http", service="dvc-phutho").f["status_code"] == 503
    assert _get(pts, "http", service="dvc-quoc-gia").f["ok"] == 1
    # token removed (office hours, on a PC with a token) and certificate expiring
    assert _get(pc.points(h(7.5)), "token").f["result"] == "no_token"
    assert _get(pc.points(h(8.5)), "token").f["present"] == 1
    assert 0.4 < float(_get(pc.points(h(10)), "token_cert").f["days_left"]) < 0.5
    assert _get(pc.points(h(16.5)), "token_cert").f["expired"] == 0
    assert _get(pc.points(h(21.5)), "token_cert").f["expired"] == 1
    # router reboot: SNMP times out during, rebooted right after
    assert _get(gw.points(h(21.02)), "snmp_device").f["result"] == "timeout"
    after = _get(gw.points(h(21 + 5 / 60) + 60 * NS), "snmp_device").f
    assert after["rebooted"] == 1 and float(after["uptime_s"]) == 60.0
    # clock off: the agent's timestamps move, nobody else's
    t = h(22.5)
    clocked = ms["sim-07900-1-pc01"]
    assert {p.t for p in clocked.points(t)} == {t - 600 * NS}
    assert {p.t for p in gw.points(t)} == {t}
    # ISP outage: every site on that ISP, no other
    viettel = [m for m in ms.values() if m.agent.site.isp == "viettel" and m.agent.role == "gateway"]
    others = [m for m in ms.values() if m.agent.site.isp != "viettel" and m.agent.role == "gateway"]
    assert all(not m.reachable(h(3.5)) for m in viettel) and all(m.reachable(h(3.5)) for m in others)
