"""Walk the generated dashboards: every panel, every target, and Grafana's variable substitution for InfluxQL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JSON_DIR = Path(__file__).resolve().parents[2] / "dashboards" / "json"


@dataclass(frozen=True)
class Target:
    dashboard: str  # file stem
    panel: str
    ref_id: str
    datasource: dict[str, Any]
    body: dict[str, Any]

    @property
    def query(self) -> str:
        return str(self.body.get("query", ""))

    @property
    def id(self) -> str:
        return f"{self.dashboard}/{self.panel}/{self.ref_id}"


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text("utf-8")) for p in sorted(JSON_DIR.glob("*.json"))}


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for p in board.get("panels", []):
        yield p
        yield from p.get("panels", [])  # panels inside a collapsed row


def targets() -> list[Target]:
    out = []
    for name, board in dashboards().items():
        for p in panels(board):
            for t in p.get("targets", []):
                out.append(Target(name, p["title"], t["refId"], t.get("datasource") or p.get("datasource") or {}, t))
    return out


def influxql_targets() -> list[Target]:
    return [t for t in targets() if t.datasource.get("type") == "influxdb"]


def substitute(query: str, values: dict[str, str], time_filter: str = "time > now() - 24h",
               interval: str = "5m") -> str:
    """What Grafana sends for a raw InfluxQL query: ``$timeFilter``, ``$__interval`` and the variables
    (a regex-quoted value inside ``/^...$/``, the plain value elsewhere)."""
    q = query.replace("$timeFilter", time_filter).replace("$__interval", interval)

    def var(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name not in values:
            raise KeyError(f"variable ${name} has no test value")
        return values[name]

    return re.sub(r"\$(?:\{(\w+)\}|(\w+))", var, q)


def variables_used(query: str) -> set[str]:
    return {a or b for a, b in re.findall(r"\$(?:\{(\w+)\}|(\w+))", query)} - {"timeFilter", "__interval"}
