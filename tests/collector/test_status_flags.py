"""``commune-collector status`` marks agents that are offline (their last will) or stale (silent too long)."""

from __future__ import annotations

from collector.config import CollectorConfig, CollectorFileConfig, parse_inventory
from collector.status import AgentRow, flag, render

NOW = 1_800_000_000.0


def _row(agent: str, age: float | None, state: str | None = None) -> AgentRow:
    row = AgentRow(agent, "07900", "Phường Việt Trì", "main",
                   None if age is None else int((NOW - age) * 1e9))
    if state:
        row.values["state"] = state
    return row


def test_offline_stale_never_and_ok() -> None:
    assert flag(_row("a", 5), NOW) == "ok"
    assert flag(_row("a", 5, "offline"), NOW) == "OFFLINE"
    assert flag(_row("a", 181), NOW) == "STALE"
    assert flag(_row("a", 181), NOW, stale_after=600) == "ok"
    assert flag(_row("a", None), NOW) == "NEVER"


def test_render_lists_the_agents_that_went_quiet() -> None:
    inv = parse_inventory({"agents": {"a": {"commune": "07900"}, "b": {"commune": "07900"}}}, "fleet.yaml")
    cfg = CollectorConfig("collector.yaml", CollectorFileConfig(), inv)
    out = render([_row("a", 5), _row("b", 400, "online")], cfg, NOW)
    lines = out.splitlines()
    assert lines[2].startswith("ok") and lines[3].startswith("STALE")
    assert out.endswith("1 offline or stale (no data for 180s): b")
