"""Benchmark (not a test): time every dashboard panel's InfluxQL over 24 h and 30 d, raw points vs rollups.

Seeds a throw-away InfluxDB 1.x with N days of a simulated province (tests/dashboards/simulate.py: the real
measurement, tag and field names), computes the 1-minute and 1-hour rollups with the same queries the
continuous queries run, then runs every query of every panel with its variables substituted:

    python -m bench.dashboards [--communes 148] [--days 30] [--step 1800] [--runs 2]

Prints a Markdown table (milliseconds, best of ``--runs``) and the slowest province-wide 30-day query on the
policy the dashboards would pick; exits 1 if that one is over 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from collector.config import CollectorConfig, CollectorFileConfig, InfluxSection
from collector.influx import make_influx_client
from collector.retention import HOUR_RP, MINUTE_RP, Retention
from collector.retention_config import RetentionSection
from devstack import services as stack
from tests.dashboards import simulate
from tests.dashboards.panels import influxql_targets, substitute

RAW = RetentionSection().raw_policy
RANGES = {"24h": ("time > now() - 24h", "1m", MINUTE_RP), "30d": ("time > now() - 30d", "1h", HOUR_RP)}


def run_query(url: str, db: str, q: str) -> tuple[float, bool]:
    data = urllib.parse.urlencode({"q": q, "db": db, "epoch": "ms"}).encode()
    t0 = time.perf_counter()
    with urllib.request.urlopen(f"{url}/query", data=data, timeout=600) as r:
        res = json.loads(r.read())
    elapsed = time.perf_counter() - t0
    first = res["results"][0]
    if "error" in first:
        raise RuntimeError(f"{first['error']}: {q}")
    return elapsed, bool(first.get("series"))


async def seed(url: str, db: str, args: argparse.Namespace) -> tuple[int, simulate.Fleet]:
    icfg = InfluxSection(url=url, database=db, timeout=600)  # a day's SELECT ... INTO takes more than 10 s
    client = make_influx_client(icfg)
    fleet = simulate.fleet(args.communes)
    try:
        await client.ensure_database()
        retention = Retention(client, icfg, RetentionSection())
        await retention.ensure()
        await retention.write_meta(CollectorConfig("bench", CollectorFileConfig(influx=icfg), fleet.inventory))
        end = time.time() - 30
        start = end - args.days * 86400
        t0 = time.perf_counter()
        n = simulate.write_lines(url, db, simulate.lines(fleet, start, end, args.step))
        print(f"seeded {n:,} points in {time.perf_counter() - t0:.0f} s", flush=True)
        t0 = time.perf_counter()
        day = 86400
        t = start - 3600
        while t < end + 3600:  # a day at a time keeps each SELECT ... INTO small
            await retention.backfill(_rfc3339(t), _rfc3339(min(t + day, end + 3600)))
            t += day
        print(f"rollups computed in {time.perf_counter() - t0:.0f} s", flush=True)
        return n, fleet
    finally:
        await client.close()


def _rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--communes", type=int, default=148)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--step", type=float, default=1800.0, help="seconds between an agent's rounds")
    p.add_argument("--runs", type=int, default=2)
    args = p.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-dash-"))
    port = stack.free_port()
    svc = stack.influxdb(workdir / "influxdb", port, stack.free_port())
    svc.start()
    url, db = f"http://127.0.0.1:{port}", "bench"
    try:
        n, fleet = asyncio.run(seed(url, db, args))
        agents = len(fleet.inventory.agents)
        print(f"scale: {args.communes} communes, {agents} agents (one per site), a round every {args.step:.0f} s "
              f"for {args.days} days: {n:,} raw points")
        commune = sorted(a.commune.code for a in fleet.inventory.agents.values() if a.site == "site-2")[0]
        values = {"commune": commune, "site": ".*", "agent": ".*", "service": ".*"}
        print("\n| panel | query | 24h raw | 24h 1m | 30d raw | 30d 1h |\n| --- | --- | ---: | ---: | ---: | ---: |")
        worst: tuple[float, str] = (0.0, "")
        for t in influxql_targets():
            cells = []
            for label, (tf, interval, rollup) in RANGES.items():
                for rp in (RAW, rollup):
                    if "$rp" not in t.query and rp != RAW:
                        cells.append("–")
                        continue
                    q = substitute(t.query, {**values, "rp": rp}, tf, interval)
                    best = min(run_query(url, db, q)[0] for _ in range(args.runs))
                    cells.append(f"{best * 1000:.0f}")
                    picked = rp == rollup or "$rp" not in t.query
                    if label == "30d" and picked and t.dashboard != "commune-detail" and best > worst[0]:
                        worst = (best, t.id)
            print(f"| {t.dashboard} / {t.panel} | {t.ref_id} | " + " | ".join(cells) + " |", flush=True)
        print(f"\nslowest province-wide 30-day query on the policy the dashboard picks: {worst[0] * 1000:.0f} ms "
              f"({worst[1]})")
        return 0 if worst[0] <= 2.0 else 1
    finally:
        svc.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
