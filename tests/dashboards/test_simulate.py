"""The simulated fleet the dashboard tests and the benchmark seed: a gateway agent and N office PCs per site,
each with its own probe set, under the real measurement, tag and field names of the wire schema."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

from collector.retention import ROLLUPS
from tests.dashboards import simulate

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "agent" / "wire" / "measurements.json")
                    .read_text("utf-8"))["measurements"]
IDENTITY = {"province", "commune", "commune_name", "site", "agent"}


def parse(line: str) -> tuple[str, dict[str, str], set[str]]:
    """Measurement, tags and field names of a line written by the simulator."""
    head, rest = re.split(r"(?<!\\) ", line, maxsplit=1)
    fields = rest.rsplit(" ", 1)[0]
    measurement, *pairs = re.split(r"(?<!\\),", head)
    tags = dict(p.split("=", 1) for p in pairs)
    return measurement, tags, set(re.findall(r'(?:^|,)(\w+)=(?=[^"]|"[^"]*")', fields))


def test_each_site_has_a_gateway_and_n_pcs() -> None:
    f = simulate.fleet(6, pcs=3)
    by_site: dict[tuple[str, str], list[str]] = defaultdict(list)
    for a in f.inventory.agents.values():
        by_site[(a.commune.code, a.site)].append(a.role)
    assert len(by_site) == 8  # every third commune has two sites
    assert all(sorted(roles) == ["gateway", "pc", "pc", "pc"] for roles in by_site.values())


def test_pcs_and_gateways_send_their_own_probe_sets_with_the_schemas_names() -> None:
    f = simulate.fleet(3, pcs=2)
    sent: dict[str, set[str]] = defaultdict(set)
    checked = 0
    for line in simulate.lines(f, 0, 600, 300):
        m, tags, fields = parse(line)
        if m == "collector":
            continue
        sent[f.inventory.agents[tags["agent"]].role].add(m)
        if m in SCHEMA:
            assert set(tags) - IDENTITY <= set(SCHEMA[m]["tags"]), (m, tags)
            assert fields <= set(SCHEMA[m]["fields"]), (m, fields - set(SCHEMA[m]["fields"]))
            checked += 1
    assert {"ping", "http", "dns", "tcp", "host", "host_disk", "token", "token_module", "token_cert"} <= sent["pc"]
    assert not sent["pc"] & {"snmp_device", "snmp_interface", "uplink"}
    assert {"ping", "uplink", "snmp_device", "snmp_interface"} <= sent["gateway"]
    assert not sent["gateway"] & {"http", "token", "token_cert"}
    assert checked > 100


def test_rollup_rows_keep_only_the_rolled_up_fields_as_the_rollup_types_them() -> None:
    """What the benchmark writes as ``rp_1h`` rows: the ROLLUPS fields, means as floats, at the hour."""
    f = simulate.fleet(1, pcs=1)
    rows = list(simulate.lines(f, 7200 + 1234, 7200 + 1234, 300, rollup={"ping": ROLLUPS["ping"]}, align_s=3600))
    assert rows and all(r.startswith("ping,") and r.endswith(" 7200000000000") for r in rows)
    for row in rows:
        _m, _tags, fields = parse(row)
        assert fields <= set(ROLLUPS["ping"]) and re.search(r"[ ,]ok=[01]\.0[, ]", row), row
