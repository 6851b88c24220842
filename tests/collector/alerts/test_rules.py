"""Alert rule files: invalid ones fail with the message their first line states; defaults match the probes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from collector.alerts.rules import DEFAULT_RULES, load_rules
from collector.errors import ConfigError
from tests.support.paths import INVALID, REPO

# Kept in a subfolder: tests/test_invalid_configs.py loads every tests/data/invalid/*.yaml as an agent config.
INVALID_RULES = sorted((INVALID / "alerts").glob("alert-rules-*.yaml"))


@pytest.mark.parametrize("path", INVALID_RULES, ids=lambda p: p.name)
def test_invalid_rule_file_states_its_full_error(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# error: ")
    with pytest.raises(ConfigError) as err:
        load_rules(path)
    assert str(err.value) == f"{path.parent}/{first.removeprefix('# error: ')}"


def test_invalid_examples_exist() -> None:
    assert len(INVALID_RULES) >= 8


def test_default_rules_load_with_model_defaults() -> None:
    rs = load_rules(DEFAULT_RULES)
    names = {r.name for r in rs.rules}
    assert {"AgentOffline", "TargetUnreachable", "HighLoss", "DnsFailing", "PortalDown", "PortalSlow",
            "TokenMissing", "CertificateExpiring", "CertificateExpired", "SigningMiddlewareDown",
            "RouterRebooted", "UplinkSaturated", "InterfaceDown", "DiskAlmostFull", "ClockOff",
            "AgentQueueDropping"} <= names
    slow = next(r for r in rs.rules if r.name == "PortalSlow")
    assert slow.spec.aggregate is not None and slow.spec.aggregate.fn == "p95"
    assert slow.spec.aggregate.window == 600 and slow.spec.stale_after == 900  # model default
    pc = next(r for r in rs.rules if r.id == "agent-offline-pc")
    assert pc.spec.office_hours_only and pc.spec.applies_to == ["pc"]


def _documented() -> dict[str, set[str]]:
    """measurement -> its field and tag names, parsed from the tables of docs/probes/*.md.

    Two table shapes exist: `| measurement | tags | field | ... |` (continuation rows leave the measurement
    empty) and, under a `### \\`name\\`` heading, `| kind | name | ... |` rows (tag/field). The integrator will
    switch this to the measurement schema in agent.wire once it exists."""
    out: dict[str, set[str]] = {}
    for doc in (REPO / "docs" / "probes").glob("*.md"):
        current = ""
        heading = ""
        for line in doc.read_text(encoding="utf-8").splitlines():
            h = re.match(r"^#+ `([a-z_]+)`", line)
            if h:
                heading = h.group(1)
                continue
            if not line.startswith("|") or "---" in line:
                continue
            cells = [c.strip().strip("`") for c in line.strip("|").split("|")]
            names = lambda cell: {w for w in re.findall(r"[a-z][a-z0-9_]*", cell.replace("`", ""))}  # noqa: E731
            if cells[0] in ("tag", "field") and heading:
                out.setdefault(heading, set()).update(names(cells[1]))
            elif len(cells) >= 3 and cells[0] not in ("measurement", "kind", "", "tag", "field") \
                    and re.fullmatch(r"[a-z_]+", cells[0]):
                current = cells[0]
                out.setdefault(current, set()).update(names(cells[1]) | names(cells[2]))
            elif len(cells) >= 3 and cells[0] == "" and current:
                out[current].update(names(cells[1]) | names(cells[2]))
    return out


def test_every_default_rule_watches_a_documented_measurement_field_and_tags() -> None:
    docs = _documented()
    for rule in load_rules(DEFAULT_RULES).rules:
        spec = rule.spec
        assert spec.measurement in docs, f"{rule.id}: measurement {spec.measurement} not in docs/probes"
        known = docs[spec.measurement]
        for name in [spec.field, *spec.target, *spec.match, spec.service_tag]:
            if name:
                assert name in known, f"{rule.id}: {name} is not a field/tag of {spec.measurement}"


def test_documented_parser_sees_known_fields() -> None:
    docs = _documented()  # guards the parser itself
    assert {"loss_percent", "result", "name", "role"} <= docs["ping"]
    assert {"days_left", "expired", "serial"} <= docs["token_cert"]
    assert "uplink_saturated" in docs["snmp_device"] and "oper_up" in docs["snmp_interface"]
    assert "queue_dropped_total" in docs["agent"] and "percent" in docs["host_disk"]
