"""The measurement schema: assembled from the probes' declarations, committed in the wire contract, the docs
tables generated from it, and the points the agent really makes conform to it."""

from __future__ import annotations

from pathlib import Path

from agent import schema_export, wire
from agent.config import parse_config
from agent.probes import REGISTRY
from agent.probes.base import ProbeContext
from agent.probes.synthetic import SyntheticConfig, SyntheticProbe
from agent.runner import Agent, run_probe_once
from agent.wire.spec import RESERVED_MEASUREMENTS, FieldType
from tests.support.schema import conforming, schema_problems


def test_regenerating_reproduces_the_committed_schema_file_exactly() -> None:
    committed = schema_export.SCHEMA_PATH.read_bytes()
    assert schema_export.schema_json(schema_export.assemble()) == committed
    assert schema_export.main(["--check"]) == 0


def test_the_contract_loads_the_committed_schema_with_its_version() -> None:
    schema = wire.measurement_schema()
    assert schema.version == schema_export.SCHEMA_CONTENT_VERSION and schema.format == wire.spec.SCHEMA_FORMAT
    assert schema == schema_export.assemble()
    assert not RESERVED_MEASUREMENTS & set(schema.measurements)
    assert {"agent", "agent_probe", "host", "ping", "http", "token_cert", "snmp_interface", "lan_scan"} <= set(
        schema.measurements)


def test_every_probe_declares_what_it_sends_on_its_own_docs_page() -> None:
    schema = wire.measurement_schema()
    for name, probe in REGISTRY.items():
        assert probe.measurements, f"probe {name} declares no measurement"
        for m in probe.measurements:
            assert schema.measurements[m.name] == m
            assert (schema_export.DOCS_DIR / f"{m.page}.md").exists()
    for spec in schema.measurements.values():
        for key, field in spec.fields.items():
            assert field.max_length is None or field.type is FieldType.STR, f"{spec.name}.{key}"
            if "result" in spec.fields:
                assert {"ok", "reason"} <= set(spec.fields)


def test_docs_tables_list_exactly_the_schema(tmp_path: Path) -> None:
    schema = wire.measurement_schema()
    assert schema_export.check_docs(schema) == []
    # the check fails when a page's table drifts from the schema or lacks a measurement
    page = (schema_export.DOCS_DIR / "ping.md").read_text(encoding="utf-8")
    (tmp_path / "ping.md").write_text(page.replace("| field | jitter_ms | float |", "| field | jitter_ms | int |"))
    for other in {s.page for s in schema.measurements.values()} - {"ping"}:
        (tmp_path / f"{other}.md").write_text((schema_export.DOCS_DIR / f"{other}.md").read_text(encoding="utf-8"))
    (tmp_path / "host.md").write_text((tmp_path / "host.md").read_text().replace("<!-- schema:host_net -->", ""))
    problems = schema_export.check_docs(schema, tmp_path)
    assert any("ping.md: a measurement table is out of date" in p for p in problems)
    assert any("host.md: tables for" in p for p in problems)


async def test_synthetic_probe_and_the_agents_own_points_conform(tmp_path: Path) -> None:
    ctx = ProbeContext(agent_id="pc-test")
    conforming(await SyntheticProbe(SyntheticConfig(points_per_round=10, series=3), ctx).collect())
    agent = Agent(parse_config({"agent": {"id": "pc-test"}}, "test"), tmp_path)
    try:
        conforming([agent.self_metrics()])
        conforming(await run_probe_once(SyntheticProbe(SyntheticConfig(), ctx)))
    finally:
        agent.queue.close()


def test_the_check_sees_a_point_that_does_not_conform() -> None:
    bad = wire.Point(m="ping", t=1, f={"loss_percent": "x"}, tg={"target": "a"})
    assert schema_problems([bad]) and "wrong_type" in schema_problems([bad])[0]
