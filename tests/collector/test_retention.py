"""Retention policies, rollup continuous queries and the meta points, against a real InfluxDB 1.x."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
import yaml

from collector.config import (
    AgentIdentity,
    CollectorConfig,
    CollectorFileConfig,
    InfluxSection,
    Inventory,
    load_config,
)
from collector.consume import Collector
from collector.influx import make_influx_client
from collector.registry import communes
from collector.retention import (
    HOUR_RP,
    META_RP,
    MINUTE_RP,
    ROLLUPS,
    SITE_HOUR_RP,
    SITE_MINUTE_RP,
    SITE_ROLLUPS,
    Retention,
    ensure_retention,
    rollups,
)
from collector.retention_config import RetentionSection
from devstack.services import free_port
from tests.support.services import Influx

pytestmark = pytest.mark.integration


def _cfg(influx: Influx, db: str, agents: dict[str, AgentIdentity] | None = None) -> CollectorConfig:
    return CollectorConfig("test", CollectorFileConfig(influx=InfluxSection(url=influx.url, database=db)),
                           Inventory("test", agents or {}))


def _policies(influx: Influx, db: str) -> dict[str, tuple[str, bool]]:
    return {r["name"]: (r["duration"], r["default"]) for r in influx.rows(f'SHOW RETENTION POLICIES ON "{db}"', db)}


def _cqs(influx: Influx, db: str) -> dict[str, str]:
    return {name: q for s in influx.query("SHOW CONTINUOUS QUERIES", db) if s["name"] == db for name, q in s.get("values", [])}


async def test_policies_and_continuous_queries_are_created_once(influx: tuple[Influx, str]) -> None:
    server, db = influx
    cfg = _cfg(server, db)
    client = make_influx_client(cfg.influx)
    try:
        r = Retention(client, cfg.influx, RetentionSection())
        await r.ensure()
        first = (_policies(server, db), _cqs(server, db))
        assert first[0] == {"autogen": ("720h0m0s", True), MINUTE_RP: ("17472h0m0s", False),
                            HOUR_RP: ("17472h0m0s", False), SITE_MINUTE_RP: ("17472h0m0s", False),
                            SITE_HOUR_RP: ("17472h0m0s", False), META_RP: ("0s", False)}
        assert set(first[1]) == ({f"cm_{g}_{m}" for g in ("1m", "1h") for m in ROLLUPS}
                                 | {f"cm_{g}_{m}" for g in ("s1m", "s1h") for m in SITE_ROLLUPS})
        assert "INTO" in first[1]["cm_1m_ping"] and "autogen.ping" in first[1]["cm_1m_ping"]
        site = first[1]["cm_s1h_ping"]
        assert f"{HOUR_RP}.ping" in site and "*" not in site and "agent" not in site.split("GROUP BY")[1]
        await r.ensure()
        assert (_policies(server, db), _cqs(server, db)) == first
    finally:
        await client.close()


async def test_a_changed_duration_or_query_is_put_back(influx: tuple[Influx, str]) -> None:
    server, db = influx
    cfg = _cfg(server, db)
    client = make_influx_client(cfg.influx)
    try:
        await Retention(client, cfg.influx, RetentionSection()).ensure()
        server.query(f'ALTER RETENTION POLICY "autogen" ON "{db}" DURATION 7d', db)
        server.query(f'DROP CONTINUOUS QUERY "cm_1h_http" ON "{db}"', db)
        server.query(f'DROP CONTINUOUS QUERY "cm_1m_ping" ON "{db}"', db)
        server.query(f'CREATE CONTINUOUS QUERY "cm_1m_ping" ON "{db}" BEGIN SELECT mean("ok") AS "ok" INTO '
                     f'"{db}"."{MINUTE_RP}"."ping" FROM "{db}"."autogen"."ping" GROUP BY time(1m), * END', db)
        await Retention(client, cfg.influx, RetentionSection(raw_duration="60d")).ensure()
        assert _policies(server, db)["autogen"] == ("1440h0m0s", True)
        cqs = _cqs(server, db)
        assert "cm_1h_http" in cqs and "rtt_avg_ms" in cqs["cm_1m_ping"]
    finally:
        await client.close()


async def test_installed_continuous_queries_produce_rollups_with_the_raw_field_names(influx: tuple[Influx, str]) -> None:
    """Run each installed CQ's own query by hand over the last hours (what InfluxDB runs every interval)."""
    server, db = influx
    cfg = _cfg(server, db)
    client = make_influx_client(cfg.influx)
    now = int(time.time()) // 3600 * 3600 - 3600  # a whole hour that has ended
    lines = []
    for k in range(120):  # one ping point every 30 s for an hour, ok 3 times in 4
        t = now - 3600 + 30 * k
        ok = 0 if k % 4 == 0 else 1
        lines.append(f"ping,commune=07900,agent=pc-1,target=8.8.8.8,name=google,role=public ok={ok}i,"
                     f"loss_percent={100 - 100 * ok}.0,rtt_avg_ms={10 + k % 2}.0 {t}000000000")
    try:
        await Retention(client, cfg.influx, RetentionSection()).ensure()
        await client.write("\n".join(lines).encode())
        cqs = _cqs(server, db)
        window = f"time >= {now - 3600}s AND time < {now}s"
        for name in ("cm_1m_ping", "cm_1h_ping"):
            select = cqs[name].split(" BEGIN ", 1)[1].removesuffix(" END")
            server.query(select.replace(" GROUP BY time(", f" WHERE {window} GROUP BY time("), db)
        minute = server.rows(f'SELECT "ok", "rtt_avg_ms", "loss_percent" FROM "{MINUTE_RP}"."ping" GROUP BY *', db)
        assert len(minute) == 60 and {r["ok"] for r in minute} == {0.5, 1.0}
        assert {r["rtt_avg_ms"] for r in minute} == {10.5} and minute[0]["commune"] == "07900"
        hour = server.rows(f'SELECT "ok", "loss_percent" FROM "{HOUR_RP}"."ping" GROUP BY *', db)
        assert len(hour) == 1 and hour[0]["ok"] == 0.75 and hour[0]["loss_percent"] == 25.0
        assert hour[0]["agent"] == "pc-1" and hour[0]["role"] == "public"
    finally:
        await client.close()


async def test_backfill_rolls_up_points_that_arrived_late(influx: tuple[Influx, str]) -> None:
    server, db = influx
    cfg = _cfg(server, db)
    client = make_influx_client(cfg.influx)
    day_ago = int(time.time()) // 3600 * 3600 - 86400
    try:
        r = Retention(client, cfg.influx, RetentionSection())
        await r.ensure()
        await client.write(f"host,agent=pc-1 cpu_percent=30.0 {day_ago}000000000\n"
                           f"host,agent=pc-1 cpu_percent=50.0 {day_ago + 20}000000000".encode())
        await r.backfill(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(day_ago - 3600)),
                         time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(day_ago + 3600)))
        assert [x["cpu_percent"] for x in server.rows(f'SELECT * FROM "{MINUTE_RP}"."host"', db)] == [40.0]
        assert [x["cpu_percent"] for x in server.rows(f'SELECT * FROM "{HOUR_RP}"."host"', db)] == [40.0]
    finally:
        await client.close()


async def test_meta_points_list_every_commune_and_the_rollup_choice(influx: tuple[Influx, str]) -> None:
    server, db = influx
    phu_tho = communes()
    viet_tri = phu_tho["07900"]
    agents = {f"pc-{k}": AgentIdentity(f"pc-{k}", viet_tri, "main" if k < 2 else "annex", "") for k in range(3)}
    cfg = _cfg(server, db, agents)
    client = make_influx_client(cfg.influx)
    try:
        await ensure_retention(cfg, client)
        await ensure_retention(cfg, client)  # idempotent: same points, overwritten
        rows = server.rows(f'SELECT * FROM "{META_RP}"."commune_inventory"', db)
        assert len(rows) == len(phu_tho) == 148
        vt = next(r for r in rows if r["commune"] == "07900")
        assert (vt["agents"], vt["sites"], vt["label"]) == (3, 2, "07900 Phường Việt Trì")
        assert sum(r["agents"] for r in rows) == 3
        choice = server.rows(f'SELECT "rp", "from_ms", "to_ms" FROM "{META_RP}"."rollup_choice"', db)
        assert [c["rp"] for c in sorted(choice, key=lambda c: c["from_ms"])] == ["autogen", MINUTE_RP, HOUR_RP]
    finally:
        await client.close()


async def test_start_up_carries_on_when_influxdb_is_unreachable(caplog: pytest.LogCaptureFixture) -> None:
    cfg = CollectorConfig("t", CollectorFileConfig(influx=InfluxSection(url=f"http://127.0.0.1:{free_port()}",
                                                                        timeout=2)), Inventory("t", {}))
    client = make_influx_client(cfg.influx)
    with caplog.at_level(logging.WARNING, logger="collector.retention"):
        await ensure_retention(cfg, client)
    await client.close()
    assert "retention policies / rollups not set up" in caplog.text


async def test_nothing_is_created_on_influxdb_2(influx: tuple[Influx, str]) -> None:
    server, db = influx
    icfg = InfluxSection(url=server.url, database=db, api="v2", token="t")
    cfg = CollectorConfig("t", CollectorFileConfig(influx=icfg), Inventory("t", {}))
    client = make_influx_client(icfg)
    await ensure_retention(cfg, client)
    await client.close()
    assert set(_policies(server, db)) == {"autogen"} and not _cqs(server, db)


def test_every_rollup_reads_the_policy_below_it() -> None:
    rs = rollups(RetentionSection(raw_policy="raw"))
    assert {(r.source_rp, r.target_rp, r.every) for r in rs} == {
        ("raw", MINUTE_RP, "1m"), (MINUTE_RP, HOUR_RP, "1h"), (MINUTE_RP, SITE_MINUTE_RP, "1m"),
        (HOUR_RP, SITE_HOUR_RP, "1h")}
    order = [r.target_rp for r in rs]  # a backfill runs them in this order: each after the one it reads
    assert order.index(SITE_MINUTE_RP) > order.index(MINUTE_RP) and order.index(SITE_HOUR_RP) > order.index(HOUR_RP)


async def test_site_rollups_can_be_switched_off(influx: tuple[Influx, str]) -> None:
    server, db = influx
    cfg = _cfg(server, db)
    client = make_influx_client(cfg.influx)
    try:
        await ensure_retention(cfg, client, RetentionSection(site_rollups=False))
        assert SITE_MINUTE_RP not in _policies(server, db) and not any("_s1" in n for n in _cqs(server, db))
        await ensure_retention(cfg, client, RetentionSection())
        assert sum("_s1" in n for n in _cqs(server, db)) == 2 * len(SITE_ROLLUPS)
        await ensure_retention(cfg, client, RetentionSection(site_rollups=False))  # switched off again
        await ensure_retention(cfg, client, RetentionSection(site_rollups=False))
    finally:
        await client.close()
    cqs = _cqs(server, db)
    assert not any("_s1" in n for n in cqs) and len(cqs) == 2 * len(ROLLUPS)
    choice = server.rows(f'SELECT "rp", "site_rp" FROM "{META_RP}"."rollup_choice"', db)
    assert choice and all(c["site_rp"] == c["rp"] for c in choice)  # province dashboards fall back to per agent


async def test_site_rollup_of_two_pcs_is_their_mean_and_keeps_max_and_min(influx: tuple[Influx, str]) -> None:
    """Two PCs of one site, 1-minute rounds for an hour: PC 1 always reaches the portal, PC 2 one round in
    four. The site-level rollups (no agent tag) hold the mean of the two PCs' availability, a max stays the
    larger PC's max, a min the smaller one's; another site stays apart; the installed CQs' own queries compute
    the same as the backfill."""
    server, db = influx
    cfg = _cfg(server, db)
    client = make_influx_client(cfg.influx)
    hour = int(time.time()) // 3600 * 3600 - 7200  # a whole hour that has ended
    ident = "province=25,commune=07900,commune_name=Phường\\ Việt\\ Trì"
    lines = []
    for k in range(60):
        t = (hour + 60 * k) * 1_000_000_000
        for pc, ok in (("pc-1", 1), ("pc-2", int(k % 4 == 0))):
            lines.append(f"http,{ident},site=main,agent={pc},service=dvc,url=https://x/{pc} ok={ok}i,"
                         f"total_ms={100 if pc == 'pc-1' else 300}.0,tls_days_left={30 if pc == 'pc-1' else 20}.0 {t}")
        lines.append(f"http,{ident},site=annex,agent=pc-9,service=dvc,url=https://x/ ok=0i,total_ms=1.0 {t}")
        lines.append(f"agent_clock,{ident},site=main,agent=pc-1 offset_ms=-5.0,skewed=0i {t}")
        lines.append(f"agent_clock,{ident},site=main,agent=pc-2 offset_ms={40000 if k == 7 else 10}.0,"
                     f"skewed={int(k == 7)}i {t}")
    try:
        r = Retention(client, cfg.influx, RetentionSection())
        await r.ensure()
        await client.write("\n".join(lines).encode())
        await r.backfill(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(hour)),
                         time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(hour + 3600)))
        minute = server.rows(f'SELECT * FROM "{SITE_MINUTE_RP}"."http" WHERE "site" = \'main\' GROUP BY *', db)
        assert len(minute) == 60 and {m["ok"] for m in minute} == {0.5, 1.0}
        assert "agent" not in minute[0] and "url" not in minute[0] and minute[0]["service"] == "dvc"
        assert {m["total_ms"] for m in minute} == {200.0} and {m["tls_days_left"] for m in minute} == {20.0}
        site_hour = server.rows(f'SELECT * FROM "{SITE_HOUR_RP}"."http" GROUP BY "site"', db)
        by_site = {h["site"]: h for h in site_hour}
        assert len(site_hour) == 2 and by_site["main"]["ok"] == (1 + 0.25) / 2 and by_site["annex"]["ok"] == 0
        per_pc = server.rows(f'SELECT mean("ok") AS "ok" FROM "{HOUR_RP}"."http" WHERE "site" = \'main\'', db)
        assert per_pc[0]["ok"] == by_site["main"]["ok"]  # the site's availability is the mean of its PCs'
        clock = server.rows(f'SELECT "offset_ms", "skewed" FROM "{SITE_HOUR_RP}"."agent_clock"', db)
        assert len(clock) == 1 and clock[0]["skewed"] == 1 and clock[0]["offset_ms"] > 600  # the worst PC
        cqs = _cqs(server, db)  # the continuous query computes what the backfill did
        server.query('DROP MEASUREMENT "http"', db)
        await client.write("\n".join(lines).encode())
        window = f"time >= {hour}s AND time < {hour + 3600}s"
        for name in ("cm_1m_http", "cm_1h_http", "cm_s1h_http"):
            select = cqs[name].split(" BEGIN ", 1)[1].removesuffix(" END")
            server.query(select.replace(" GROUP BY time(", f" WHERE {window} GROUP BY time("), db)
        again = server.rows(f'SELECT "ok" FROM "{SITE_HOUR_RP}"."http" GROUP BY "site"', db)
        assert {h["site"]: h["ok"] for h in again} == {"main": 0.625, "annex": 0.0}
    finally:
        await client.close()


async def test_the_collector_sets_them_up_when_it_starts(tmp_path: Path, mosquitto: int,
                                                          influx: tuple[Influx, str]) -> None:
    server, db = influx
    (tmp_path / "fleet.yaml").write_text(yaml.safe_dump({"agents": {"pc-a": {"commune": "07900"}}}))
    (tmp_path / "collector.yaml").write_text(yaml.safe_dump({
        "inventory": "fleet.yaml", "mqtt": {"port": mosquitto, "client_id": f"collector-{db}"},
        "influx": {"url": server.url, "database": db}}))
    collector = Collector(load_config(tmp_path / "collector.yaml"), tmp_path / "state")
    task = asyncio.create_task(collector.run())
    try:
        async with asyncio.timeout(30):
            while not collector.connected:  # connects to MQTT only after the start-up steps
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert {MINUTE_RP, HOUR_RP, META_RP} <= set(_policies(server, db))
    assert len(_cqs(server, db)) == 2 * len(ROLLUPS) + 2 * len(SITE_ROLLUPS)
    rows = server.rows(f'SELECT "agents" FROM "{META_RP}"."commune_inventory" WHERE "commune" = \'07900\'', db)
    assert [r["agents"] for r in rows] == [1]


async def test_the_config_files_retention_section_sets_the_policies_and_the_dashboards_choice(
        tmp_path: Path, influx: tuple[Influx, str]) -> None:
    server, db = influx
    (tmp_path / "fleet.yaml").write_text("agents: {}\n")
    (tmp_path / "collector.yaml").write_text(yaml.safe_dump({
        "inventory": "fleet.yaml", "influx": {"url": server.url, "database": db},
        "retention": {"raw_duration": "60d", "rollup_duration": "156w", "raw_max_range": "3d",
                      "minute_max_range": "21d"}}))
    cfg = load_config(tmp_path / "collector.yaml")
    assert cfg.file.retention == RetentionSection(raw_duration="60d", rollup_duration="156w", raw_max_range="3d",
                                                  minute_max_range="21d")
    client = make_influx_client(cfg.influx)
    try:
        await ensure_retention(cfg, client)  # no section passed: the one from the file
    finally:
        await client.close()
    assert _policies(server, db)["autogen"] == ("1440h0m0s", True)
    assert _policies(server, db)[HOUR_RP] == ("26208h0m0s", False)
    choice = {r["idx"]: (r["rp"], r["to_ms"]) for r in server.rows(f'SELECT * FROM "{META_RP}"."rollup_choice"', db)}
    assert choice["0"] == ("autogen", 3 * 86400 * 1000) and choice["1"] == (MINUTE_RP, 21 * 86400 * 1000)


def test_the_shipped_config_has_the_default_retention() -> None:
    from collector.config import DEFAULT_CONFIG

    assert load_config(DEFAULT_CONFIG).file.retention == RetentionSection()
