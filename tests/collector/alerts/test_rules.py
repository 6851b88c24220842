"""Alert rule files: invalid ones fail with the message their first line states; defaults match the probes."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.alerts.rules import DEFAULT_RULES, load_rules
from collector.errors import ConfigError
from tests.support.paths import INVALID

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


def _schema() -> dict[str, set[str]]:
    """measurement -> its field and tag names, from the measurement schema the agents are validated against
    (plus the inventory tags the collector adds to every point), and the collector's ``agent_status`` points
    (the agents' MQTT status) that it feeds the rules itself."""
    from agent.wire import RESERVED_TAGS, measurement_schema
    from collector.alerts.service import STATUS_FIELDS

    schema = {name: set(m.fields) | set(m.tags) | set(RESERVED_TAGS)
              for name, m in measurement_schema().measurements.items()}
    return {**schema, "agent_status": set(STATUS_FIELDS) | set(RESERVED_TAGS)}


def test_every_default_rule_watches_a_measurement_field_and_tags_of_the_schema() -> None:
    schema = _schema()
    for rule in load_rules(DEFAULT_RULES).rules:
        spec = rule.spec
        assert spec.measurement in schema, f"{rule.id}: measurement {spec.measurement} is not in the schema"
        known = schema[spec.measurement]
        for name in [spec.field, *spec.target, *spec.match, spec.service_tag]:
            if name:
                assert name in known, f"{rule.id}: {name} is not a field/tag of {spec.measurement}"


