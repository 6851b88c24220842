"""Every InfluxQL query of every panel and variable, with its variables substituted the way Grafana does, runs
against a real InfluxDB holding a simulated day of the province and returns data — on every policy its
dashboard's ``rp`` variable can pick: raw points and both per-agent rollups, and for the province-wide
dashboards also both site-level rollups (which they pick by default)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from collector.retention import HOUR_RP, MINUTE_RP, SITE_HOUR_RP, SITE_MINUTE_RP
from collector.retention_config import RetentionSection
from tests.dashboards.conftest import Seeded
from tests.dashboards.panels import dashboards, influxql_targets, substitute, variables_used

RAW = RetentionSection().raw_policy
TARGETS = influxql_targets()
PER_AGENT = [RAW, MINUTE_RP, HOUR_RP]


def site_level(board: str) -> bool:
    """The dashboard's ``rp`` variable reads ``site_rp``: it picks the site-level rollups."""
    return any(v["name"] == "rp" and '"site_rp"' in v["query"] for v in dashboards()[board]["templating"]["list"])


def policies(board: str) -> list[str]:
    """Every policy the dashboard can pick: the site-level ones, and the per-agent ones it falls back to when
    ``retention.site_rollups`` is off."""
    return [*PER_AGENT, SITE_MINUTE_RP, SITE_HOUR_RP] if site_level(board) else PER_AGENT


def values_for(seeded: Seeded, rp: str) -> dict[str, str]:
    two_sites = sorted({a.commune.code for a in seeded.fleet.inventory.agents.values() if a.site == "site-2"})[0]
    return {"rp": rp, "commune": two_sites, "site": ".*", "agent": ".*", "service": ".*"}


def has_data(series: list[dict[str, Any]]) -> bool:
    return any(v is not None for s in series for row in s.get("values", []) for v in row[1:])


def _cases() -> list[Any]:
    cases = []
    for t in TARGETS:
        for rp in (policies(t.dashboard) if "$rp" in t.query else [RAW]):
            cases.append(pytest.param(t, rp, id=f"{t.id}@{rp}"))
    return cases


def test_there_are_queries_to_check() -> None:
    assert len(TARGETS) >= 40
    assert sum("$rp" in t.query for t in TARGETS) >= 20
    assert {b for b in dashboards() if site_level(b)} == {"province-overview", "service-portals", "digital-signatures",
                                                           "network-devices", "agent-fleet"}


def test_province_wide_range_panels_never_group_by_a_per_pc_tag() -> None:
    """The site-level rollups have no ``agent`` (nor serial, url...) tag: a province-wide panel grouping by one
    would show a single merged series on them."""
    for t in TARGETS:
        if site_level(t.dashboard) and "$rp" in t.query:
            clauses = re.findall(r"GROUP BY ((?:time\([^)]*\)|[^)])*?)(?= fill\(|\)|$)", t.query)
            grouped = set(re.findall(r'"(\w+)"', " ".join(clauses)))
            assert not grouped & {"agent", "token", "serial", "url", "reader", "path", "interface_alias"}, t.id


@pytest.mark.integration
@pytest.mark.parametrize(("target", "rp"), _cases())
def test_panel_query_returns_data(seeded: Seeded, target: Any, rp: str) -> None:
    q = substitute(target.query, values_for(seeded, rp))
    series = seeded.influx.query(q, seeded.db)
    assert has_data(series), f"no data for {target.id} with rp={rp}: {q}"


@pytest.mark.integration
def test_commune_selection_narrows_the_data(seeded: Seeded) -> None:
    """The commune detail's queries really filter: another commune's agents never show up."""
    vals = values_for(seeded, RAW)
    host = next(t for t in TARGETS if t.dashboard == "commune-detail" and t.panel == "CPU")
    rows = seeded.influx.rows(substitute(host.query, vals), seeded.db)
    agents = {r["agent"] for r in rows}
    expected = {a.agent for a in seeded.fleet.inventory.agents.values() if a.commune.code == vals["commune"]}
    assert agents == expected and len(agents) == 2
    one = seeded.influx.rows(substitute(host.query, {**vals, "site": "site-2"}), seeded.db)
    assert {r["agent"] for r in one} == {a for a in expected if "-site-2-" in a}


def _variables() -> list[tuple[str, dict[str, Any]]]:
    return [(name, v) for name, b in dashboards().items() for v in b["templating"]["list"]]


@pytest.mark.integration
@pytest.mark.parametrize(("range_days", "want", "want_site"), [
    (1, RAW, SITE_MINUTE_RP), (2, RAW, SITE_MINUTE_RP), (10, MINUTE_RP, SITE_MINUTE_RP), (30, HOUR_RP, SITE_HOUR_RP),
    (365, HOUR_RP, SITE_HOUR_RP)])
def test_rollup_variable_picks_the_policy_for_the_time_range(seeded: Seeded, range_days: int, want: str,
                                                             want_site: str) -> None:
    """Commune detail: raw, then per-agent rollups; province-wide dashboards: site-level rollups at every range."""
    to = 1_764_000_000_000
    checked = set()
    for board, var in _variables():
        if var["name"] != "rp":
            continue
        q = var["query"].replace("$__to", str(to)).replace("$__from", str(to - range_days * 86_400_000))
        got = [row[1] for s in seeded.influx.query(q, seeded.db) for row in s["values"]]
        assert got == [want_site if site_level(board) else want], (board, q)
        checked.add(site_level(board))
    assert checked == {True, False}


@pytest.mark.integration
def test_commune_variable_lists_communes_with_agents_as_code_and_name(seeded: Seeded) -> None:
    var = next(v for _, v in _variables() if v["name"] == "commune")
    got = [row[1] for s in seeded.influx.query(var["query"], seeded.db) for row in s["values"]]
    pattern = re.compile(var["regex"].strip("/").replace("(?<", "(?P<"))
    parsed = {m["value"]: m["text"] for m in map(pattern.match, got) if m}
    expected = {a.commune.code: a.commune.name for a in seeded.fleet.inventory.agents.values()}
    assert parsed == expected


@pytest.mark.integration
def test_tag_variables_return_values(seeded: Seeded) -> None:
    vals = values_for(seeded, RAW)
    checked = 0
    for board, var in _variables():
        if var["name"] in ("rp", "commune"):
            continue
        q = substitute(var["query"], {k: vals[k] for k in variables_used(var["query"])})
        got = {row[1] for s in seeded.influx.query(q, seeded.db) for row in s["values"]}
        assert got, (board, var["name"], q)
        checked += 1
    assert checked >= 3


@pytest.mark.integration
def test_status_table_shows_communes_without_agents(seeded: Seeded) -> None:
    """The overview's status table joins on the inventory: all 148 communes are rows, and those without an
    agent have no status (shown as "Không có agent") instead of being missing."""
    status = [t for t in TARGETS if t.dashboard == "province-overview" and t.panel.startswith("Tình trạng")]
    inventory = seeded.influx.rows(status[0].query, seeded.db)
    ping = {r["commune"]: r["ping_ok"] for r in seeded.influx.rows(status[1].query, seeded.db)}
    assert len(inventory) == 148
    without = [r for r in inventory if r["agents"] == 0]
    assert len(without) == 148 - 12 and not any(r["commune"] in ping for r in without)
    assert all(ping[c] == 0 for c in seeded.fleet.broken_link)
    assert all(ping[c] > 0.9 for c in ping if c not in seeded.fleet.broken_link)
