"""InfluxDB 1.x retention policies and rollups, created idempotently when the collector starts.

- Raw points stay in the database's default policy (``raw_policy``, normally ``autogen``), whose duration is
  set to ``raw_duration`` (default 30 days).
- ``rp_1m`` and ``rp_1h`` (default 2 years each) hold 1-minute and 1-hour rollups under the **same
  measurement and field names** as the raw data, so a dashboard query only swaps the policy in ``FROM``.
  Continuous queries ``cm_1m_<measurement>`` (raw -> rp_1m) and ``cm_1h_<measurement>`` (rp_1m -> rp_1h)
  keep them filled; ``RESAMPLE ... FOR`` re-computes the last intervals so slightly late points count.
  Points an agent delivers later than that (after a long outage) are rolled up by ``backfill``.
- ``rp_site_1m`` and ``rp_site_1h`` (same duration, unless ``site_rollups: false``) hold the site-level rollups
  of the measurements the province-wide dashboards read (``cm_s1m_<m>`` rp_1m -> rp_site_1m, ``cm_s1h_<m>``
  rp_1h -> rp_site_1h): no ``agent`` tag, so their size does not grow with the PCs per site
  (collector/retention_rollups.py).
- ``cm_meta`` (infinite) holds two small measurements at timestamp 0, rewritten at every start:
  ``rollup_choice`` (which policy fits a time range, ``rp`` per agent and ``site_rp`` site-level; dashboards read
  it in their hidden ``rp`` variable)
  and ``commune_inventory`` (every commune of the province with its number of agents and sites, so a
  commune without an agent is a row with ``agents = 0``, not a missing one; ``label`` = "code name" feeds
  the dashboards' commune picker).

Only InfluxDB 1.x (``influx.api: v1``): on 2.x the same rollups are tasks into buckets ``<db>/rp_1m`` and
``<db>/rp_1h`` with DBRP mappings (docs/dashboards.md); ``ensure`` then does nothing.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import aiohttp

from collector.config import CollectorConfig, InfluxSection
from collector.errors import WriteError
from collector.influx import InfluxClient
from collector.lineproto import LineEncoder
from collector.registry import communes
from collector.retention_config import RetentionSection, seconds
from collector.retention_rollups import (
    HOUR_RP,
    META_RP,
    MINUTE_RP,
    ROLLUPS,
    SITE_CQ_PREFIXES,
    SITE_HOUR_RP,
    SITE_MINUTE_RP,
    SITE_ROLLUPS,
    Rollup,
    rollups,
    site_policy,
)

__all__ = [
    "HOUR_RP",
    "META_RP",
    "MINUTE_RP",
    "ROLLUPS",
    "SITE_HOUR_RP",
    "SITE_MINUTE_RP",
    "SITE_ROLLUPS",
    "Retention",
    "Rollup",
    "ensure_retention",
    "rollup_choice",
    "rollups",
]

log = logging.getLogger("collector.retention")

def _influx_duration(shown: str) -> int:
    """InfluxDB shows durations as ``720h0m0s`` (``0s`` is infinite)."""
    total, num = 0, ""
    for ch in shown:
        if ch.isdigit():
            num += ch
        else:
            total += int(num or 0) * {"h": 3600, "m": 60, "s": 1}[ch]
            num = ""
    return total


def _unquoted(q: str) -> str:
    return q.replace('"', "")


def rollup_choice(cfg: RetentionSection) -> list[tuple[str, str, str, int, int]]:
    """(idx, policy, site policy, from_ms, to_ms): the policy for a time range of length in (from_ms, to_ms],
    for a dashboard reading per-agent data and for a province-wide one reading site-level data."""
    raw_ms, minute_ms = seconds(cfg.raw_max_range) * 1000, seconds(cfg.minute_max_range) * 1000
    rows = [("0", cfg.raw_policy, 0, raw_ms), ("1", MINUTE_RP, raw_ms, minute_ms), ("2", HOUR_RP, minute_ms, 1 << 62)]
    return [(idx, rp, site_policy(cfg, rp), lo, hi) for idx, rp, lo, hi in rows]


def inventory_lines(cfg: CollectorConfig, encoder: LineEncoder) -> list[str]:
    agents: Counter[str] = Counter()
    sites: dict[str, set[str]] = {}
    for ident in cfg.inventory.agents.values():
        agents[ident.commune.code] += 1
        sites.setdefault(ident.commune.code, set()).add(ident.site)
    lines = []
    for code, commune in sorted(communes(cfg.file.province).items()):
        tags = {"province": str(commune.province_code), "commune": code, "commune_name": commune.name}
        lines.append(encoder.line("commune_inventory", tags,
                                  {"agents": agents[code], "sites": len(sites.get(code, ())),
                                   "label": f"{code} {commune.name}"}, 0))
    return lines


def meta_lines(cfg: CollectorConfig, rcfg: RetentionSection) -> list[str]:
    enc = LineEncoder()
    lines = [enc.line("rollup_choice", {"idx": idx}, {"rp": rp, "site_rp": site_rp, "from_ms": lo, "to_ms": hi}, 0)
             for idx, rp, site_rp, lo, hi in rollup_choice(rcfg)]
    return lines + inventory_lines(cfg, enc)


class Retention:
    """Creates and checks policies, continuous queries and the meta points; all steps are idempotent."""

    def __init__(self, influx: InfluxClient, icfg: InfluxSection, rcfg: RetentionSection) -> None:
        self.influx = influx
        self.icfg = icfg
        self.rcfg = rcfg
        self.db = icfg.database

    async def policies(self) -> dict[str, dict[str, Any]]:
        out = {}
        for s in await self.influx.query(f'SHOW RETENTION POLICIES ON "{self.db}"'):
            for values in s.get("values", []):
                row = dict(zip(s["columns"], values, strict=False))
                out[row["name"]] = row
        return out

    async def _policy(self, existing: dict[str, dict[str, Any]], name: str, duration: str, default: bool) -> None:
        q = f'"{name}" ON "{self.db}" DURATION {duration} REPLICATION 1'
        if name not in existing:
            await self.influx.query(f"CREATE RETENTION POLICY {q}{' DEFAULT' if default else ''}")
            log.info("created retention policy %s (%s)", name, duration)
        elif _influx_duration(existing[name]["duration"]) != seconds(duration):
            await self.influx.query(f"ALTER RETENTION POLICY {q}")
            log.info("retention policy %s: duration %s -> %s", name, existing[name]["duration"], duration)

    async def continuous_queries(self) -> dict[str, str]:
        out = {}
        for s in await self.influx.query("SHOW CONTINUOUS QUERIES"):
            if s.get("name") != self.db:
                continue
            for name, query in s.get("values", []):
                out[name] = query
        return out

    async def ensure(self) -> None:
        if not self.rcfg.enabled or self.icfg.api != "v1":
            return
        existing = await self.policies()
        await self._policy(existing, self.rcfg.raw_policy, self.rcfg.raw_duration, default=True)
        await self._policy(existing, MINUTE_RP, self.rcfg.rollup_duration, default=False)
        await self._policy(existing, HOUR_RP, self.rcfg.rollup_duration, default=False)
        if self.rcfg.site_rollups:
            await self._policy(existing, SITE_MINUTE_RP, self.rcfg.rollup_duration, default=False)
            await self._policy(existing, SITE_HOUR_RP, self.rcfg.rollup_duration, default=False)
        await self._policy(existing, META_RP, "INF", default=False)
        have = await self.continuous_queries()
        for r in rollups(self.rcfg):
            want = r.create(self.db)
            if _unquoted(have.get(r.name, "")) == _unquoted(want):  # InfluxDB shows it re-rendered, unquoted
                continue
            if r.name in have:  # the definition changed (new fields): replace it
                await self.influx.query(f'DROP CONTINUOUS QUERY "{r.name}" ON "{self.db}"')
            await self.influx.query(want)
            log.info("continuous query %s %s", r.name, "replaced" if r.name in have else "created")
        wanted = {r.name for r in rollups(self.rcfg)}
        for name in sorted(have):
            if name.startswith(SITE_CQ_PREFIXES) and name not in wanted:  # site_rollups switched off
                await self.influx.query(f'DROP CONTINUOUS QUERY "{name}" ON "{self.db}"')
                log.info("continuous query %s dropped (site_rollups is off; rp_site_* keep their data)", name)

    async def write_meta(self, cfg: CollectorConfig) -> None:
        """Rewrite ``rollup_choice`` and ``commune_inventory`` (timestamp 0: same points, overwritten)."""
        if not self.rcfg.enabled or self.icfg.api != "v1":
            return
        body = ("\n".join(meta_lines(cfg, self.rcfg)) + "\n").encode()
        params = {"db": self.db, "rp": META_RP, "precision": "ns"}
        if self.icfg.username:
            params.update(u=self.icfg.username, p=self.icfg.password)
        timeout = aiohttp.ClientTimeout(total=self.icfg.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session, \
                session.post(f"{self.icfg.url.rstrip('/')}/write", params=params, data=body) as r:
            if r.status >= 300:
                raise WriteError(f"InfluxDB answered {r.status} to the meta points: {(await r.text())[:500]}",
                                 status=r.status)

    async def backfill(self, start: str, end: str) -> None:
        """Compute the rollups of [start, end) by hand (RFC 3339 times): points that arrived too late for the
        continuous queries, or data written before the rollups existed. Minutes first, then hours."""
        where = f"time >= '{start}' AND time < '{end}'"
        for r in rollups(self.rcfg):
            await self.influx.query(r.select(self.db, where))


async def ensure_retention(cfg: CollectorConfig, influx: InfluxClient, rcfg: RetentionSection | None = None) -> None:
    """The collector's start-up step: policies, continuous queries, meta points. Logs and carries on when
    InfluxDB refuses (e.g. a user without admin rights): the data path must not depend on it."""
    rcfg = rcfg or cfg.file.retention
    retention = Retention(influx, cfg.influx, rcfg)
    try:
        await retention.ensure()
        await retention.write_meta(cfg)
    except (WriteError, aiohttp.ClientError, OSError) as exc:
        log.warning("retention policies / rollups not set up: %s", exc)
