"""``commune-collector status``: the latest reading per agent and commune, read back from InfluxDB."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from collector.config import CollectorConfig
from collector.influx import make_influx_client

_QUERIES = {
    "host": 'SELECT last("cpu_percent") AS cpu, last("mem_percent") AS mem FROM "host" WHERE time > now() - 1d GROUP BY "agent"',
    "ping": 'SELECT last("loss_percent") AS loss, last("rtt_avg_ms") AS rtt FROM "ping" WHERE time > now() - 1d GROUP BY "agent"',
    "http": 'SELECT last("ok") AS ok FROM "http" WHERE time > now() - 1h GROUP BY "agent", "service"',
    "seen": 'SELECT last("duration_ms") FROM "agent_probe" WHERE time > now() - 30d GROUP BY "agent"',
    "state": 'SELECT last("state") FROM "agent_status" WHERE time > now() - 30d GROUP BY "agent"',
}


@dataclass
class AgentRow:
    agent: str
    commune: str
    commune_name: str
    site: str
    last_seen_ns: int | None = None
    values: dict[str, Any] = field(default_factory=dict)


async def latest_per_agent(cfg: CollectorConfig) -> list[AgentRow]:
    writer = make_influx_client(cfg.influx, cfg.source)
    rows = {
        a.agent: AgentRow(a.agent, a.commune.code, a.commune.name, a.site) for a in cfg.inventory.agents.values()
    }
    try:
        for key, q in _QUERIES.items():
            for series in await writer.query(q):
                agent = series.get("tags", {}).get("agent", "")
                row = rows.get(agent)
                if row is None or not series.get("values"):
                    continue
                cols, vals = series["columns"], series["values"][0]
                rec = dict(zip(cols, vals, strict=False))
                if key == "http":  # latest result per portal -> "ok portals / portals"
                    row.values["n"] = int(row.values.get("n", 0)) + 1
                    row.values["ok"] = int(row.values.get("ok", 0)) + int(rec.get("ok") or 0)
                elif key == "seen":
                    row.last_seen_ns = int(rec["time"])
                elif key == "state":
                    row.values["state"] = rec.get("last")
                else:
                    row.values.update({k: v for k, v in rec.items() if k != "time"})
    finally:
        await writer.close()
    return sorted(rows.values(), key=lambda r: (r.commune, r.site, r.agent))


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


STALE_AFTER = 180.0
"""Default for ``status --stale-after``: 3 x the agent's usual 60 s probe interval."""


def flag(row: AgentRow, now_s: float, stale_after: float = STALE_AFTER) -> str:
    """OFFLINE (its last will / status says so), STALE (nothing for ``stale_after`` s), NEVER, or ok."""
    if row.last_seen_ns is None:
        return "NEVER"
    if row.values.get("state") == "offline":
        return "OFFLINE"
    if now_s - row.last_seen_ns / 1e9 > stale_after:
        return "STALE"
    return "ok"


COLUMNS = ("state", "agent", "commune", "name", "site", "last seen", "cpu%", "mem%", "loss%", "rtt ms", "portals ok")
_RIGHT = {"last seen", "cpu%", "mem%", "loss%", "rtt ms", "portals ok"}


def _cells(r: AgentRow, now_s: float, stale_after: float) -> list[str]:
    age = "never" if r.last_seen_ns is None else f"{now_s - r.last_seen_ns / 1e9:.0f}s ago"
    v = r.values
    portals = "-" if v.get("n") in (None, 0) else f"{int(v.get('ok') or 0)}/{int(v['n'])}"
    return [flag(r, now_s, stale_after), r.agent, r.commune, r.commune_name, r.site, age, _fmt(v.get("cpu"), ".0f"),
            _fmt(v.get("mem"), ".0f"), _fmt(v.get("loss"), ".0f"), _fmt(v.get("rtt"), ".2f"), portals]


def table(rows: list[list[str]], columns: tuple[str, ...] = COLUMNS) -> list[str]:
    """Columns as wide as their widest cell (no value is cut, no column is pushed out of line)."""
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(columns)]

    def line(cells: list[str] | tuple[str, ...]) -> str:
        return " ".join(c.rjust(w) if name in _RIGHT else c.ljust(w)
                        for c, w, name in zip(cells, widths, columns, strict=True)).rstrip()

    return [line(columns), *(line(r) for r in rows)]


def render(rows: list[AgentRow], cfg: CollectorConfig, now_s: float, stale_after: float = STALE_AFTER) -> str:
    out = [f"InfluxDB {cfg.influx.url} database {cfg.influx.database}",
           *table([_cells(r, now_s, stale_after) for r in rows])]
    reporting = sum(1 for r in rows if r.last_seen_ns is not None)
    out.append(f"{reporting} of {len(rows)} agents have reported")
    down = [r.agent for r in rows if flag(r, now_s, stale_after) in ("OFFLINE", "STALE")]
    if down:
        out.append(f"{len(down)} offline or stale (no data for {stale_after:.0f}s): {', '.join(down)}")
    return "\n".join(out)
