"""Benchmark (not a test): time every dashboard panel's InfluxQL over 24 h and 30 d, raw points vs rollups,
per-agent vs site-level, at ~10 office PCs per site.

Seeds a throw-away InfluxDB 1.x with a simulated province (tests/dashboards/simulate.py: the real measurement,
tag and field names; per site a gateway agent and ``--pcs`` office PCs), then runs every query of every panel
with its variables substituted:

    python -m bench.dashboards [--communes 148] [--pcs 10] [--days 30] [--step 900] [--runs 2]

What is seeded, so that it fits ~20 minutes and still has the rows the dashboards read:

- the last ``--dense-hours`` (24) as raw points, every agent's full probe set every ``--step`` seconds, and
  their 1-minute rollup (one round per minute at most, so each raw round is one ``rp_1m`` row: written as
  the rollup holds it, ``mean`` fields as floats, at the start of the minute);
- the ``--days`` before: the per-agent 1-hour rollup (``rp_1h``) of one round per hour, of the measurements
  the time-range panels read. An hourly rollup has the same rows whatever the probe interval (step <= 1 h), so
  this is the ``rp_1h`` of the real fleet; its values repeat the simulated day hour by hour. Raw points of
  those days are not seeded (no dashboard reads raw points over more than ``raw_max_range``);
- computed with the continuous queries' own ``SELECT ... INTO`` (collector/retention_rollups.py): the dense
  day's ``rp_1h`` from ``rp_1m``, and the site-level rollups the province-wide dashboards read: ``rp_site_1m``
  of the dense day, ``rp_site_1h`` of the dense day and of the last day before it; as the per-agent rows of
  the days before repeat that day, so do their site-level rows, which are copied (re-timestamped) to the
  earlier days instead of re-running a 30-day ``SELECT ... INTO`` (~20 min at 10 PCs per site here); and
  each computed ``rp_site_1m`` minute is copied to the minutes until the next round, since at the probes'
  30-60 s intervals every minute of a site has data: the 24-hour province-wide panels scan the real rows.

Prints the scale, a Markdown table (milliseconds; best of ``--runs`` on the policy the dashboard picks, one
run elsewhere) and the slowest province-wide 30-day query on the policy the dashboard picks; exits 1 if that
one is over 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from collector.config import CollectorConfig, CollectorFileConfig, InfluxSection
from collector.influx import make_influx_client
from collector.lineproto import LineEncoder
from collector.retention import (
    HOUR_RP,
    MINUTE_RP,
    ROLLUPS,
    SITE_HOUR_RP,
    SITE_MINUTE_RP,
    SITE_ROLLUPS,
    Retention,
    Rollup,
    rollups,
)
from collector.retention_config import RetentionSection
from devstack import services as stack
from tests.dashboards import simulate
from tests.dashboards.panels import Target, dashboards, influxql_targets, substitute

RAW = RetentionSection().raw_policy
HOUR = 3600
COLUMNS = [("24h", RAW), ("24h", MINUTE_RP), ("24h", SITE_MINUTE_RP), ("30d", RAW), ("30d", HOUR_RP),
           ("30d", SITE_HOUR_RP)]
SITE_BOARDS = {name for name, b in dashboards().items()
               if any('"site_rp"' in v.get("query", "") for v in b["templating"]["list"])}
"""Dashboards whose ``rp`` variable picks the site-level rollups (the province-wide ones)."""
RANGES = {"24h": ("time > now() - 24h", "1m"), "30d": ("time > now() - 30d", "1h")}


def fetch(url: str, db: str, q: str) -> list[dict[str, Any]]:
    """The series InfluxDB answers (times in epoch seconds)."""
    data = urllib.parse.urlencode({"q": q, "db": db, "epoch": "s"}).encode()
    with urllib.request.urlopen(f"{url}/query", data=data, timeout=600) as r:
        first = json.loads(r.read())["results"][0]
    if "error" in first:
        raise RuntimeError(f"{first['error']}: {q}")
    return list(first.get("series", []))


def run_query(url: str, db: str, q: str) -> tuple[float, bool]:
    t0 = time.perf_counter()
    series = fetch(url, db, q)
    return time.perf_counter() - t0, bool(series)


def copy_rows(url: str, db: str, rp: str, lo: int, hi: int, shifts: Callable[[int], Iterable[int]]) -> int:
    """Site-level rows of ``rp`` in [lo, hi) copied to ``t + shift`` for each of ``shifts(t)``."""
    enc = LineEncoder()

    def lines() -> Iterator[str]:
        for m in SITE_ROLLUPS:
            types = {row[0]: row[1] for s in fetch(url, db, f'SHOW FIELD KEYS FROM "{rp}"."{m}"') for row in s["values"]}
            cast = {"float": float, "integer": int}
            q = f'SELECT * FROM "{rp}"."{m}" WHERE time >= {lo}s AND time < {hi}s GROUP BY *'
            for s in fetch(url, db, q):
                tags = {k: v for k, v in s.get("tags", {}).items() if v}
                for row in s["values"]:
                    fields = {c: cast.get(types[c], str)(v) for c, v in zip(s["columns"][1:], row[1:], strict=True)
                              if v is not None}
                    for shift in shifts(row[0]):
                        yield enc.line(m, tags, fields, (row[0] + shift) * 1_000_000_000)

    return write(url, db, rp, lines())


def write(url: str, db: str, rp: str, lines: Iterator[str], batch: int = 5000, threads: int = 2) -> int:
    """POST line protocol in batches from ``threads`` writers (InfluxDB ingests ~1.6x faster from two)."""
    q = urllib.parse.urlencode({"db": db, "rp": rp, "precision": "ns"})

    def post(chunk: list[str]) -> None:
        req = urllib.request.Request(f"{url}/write?{q}", data="\n".join(chunk).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=600) as r:
            if r.status != 204:
                raise RuntimeError(f"write answered {r.status}")

    n = 0
    with ThreadPoolExecutor(threads) as pool:
        pending = []
        it = iter(lines)
        while chunk := list(itertools.islice(it, batch)):
            n += len(chunk)
            pending.append(pool.submit(post, chunk))
            if len(pending) >= 2 * threads:
                pending.pop(0).result()
        for f in pending:
            f.result()
    return n


def range_measurements() -> set[str]:
    """Measurements some panel reads through ``$rp`` (over a time range)."""
    return {m for t in influxql_targets() for m in re.findall(r'FROM "\$rp"\."(\w+)"', t.query)}


def hourly_rollup(fleet: simulate.Fleet, start: float, end: float) -> Iterator[str]:
    """``rp_1h`` rows of one round per hour in [start, end): one simulated day, hour by hour, repeated."""
    keep = {m: ROLLUPS[m] for m in sorted(range_measurements())}
    first = start - start % HOUR
    day: list[list[str]] = [[] for _ in range(24)]
    for line in simulate.lines(fleet, first, first + 23 * HOUR, HOUR, rollup=keep, align_s=HOUR):
        head, ns = line.rsplit(" ", 1)
        day[int(int(ns) // 1_000_000_000 - first) // HOUR].append(head)
    t = first
    while t < end:
        ns = f" {int(t) * 1_000_000_000}"
        for head in day[int(t - first) // HOUR % 24]:
            yield head + ns
        t += HOUR


def _rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


async def seed(url: str, db: str, args: argparse.Namespace) -> tuple[dict[str, int], simulate.Fleet]:
    icfg = InfluxSection(url=url, database=db, timeout=1800)  # a day's SELECT ... INTO takes minutes
    client = make_influx_client(icfg)
    fleet = simulate.fleet(args.communes, pcs=args.pcs)
    rcfg = RetentionSection()
    counts: dict[str, int] = {}
    try:
        await client.ensure_database()
        retention = Retention(client, icfg, rcfg)
        await retention.ensure()
        await retention.write_meta(CollectorConfig("bench", CollectorFileConfig(influx=icfg), fleet.inventory))
        end = time.time() - 30
        dense = end - args.dense_hours * HOUR
        start = end - args.days * 86400

        def timed(what: str, fn: object) -> None:
            t0 = time.perf_counter()
            assert callable(fn)
            fn()
            print(f"  {what}: {time.perf_counter() - t0:.0f} s", flush=True)

        def raw() -> None:
            counts[RAW] = write(url, db, RAW, simulate.lines(fleet, dense, end, args.step))

        def minute() -> None:
            counts[MINUTE_RP] = write(url, db, MINUTE_RP,
                                      simulate.lines(fleet, dense, end, args.step, rollup=ROLLUPS, align_s=60))

        def hour() -> None:
            counts[HOUR_RP] = write(url, db, HOUR_RP, hourly_rollup(fleet, start, dense - dense % HOUR))

        print("seeding:", flush=True)
        timed(f"raw points, last {args.dense_hours} h every {args.step:.0f} s", raw)
        timed("their 1-minute rollup rows", minute)
        timed(f"1-hour rollup rows of the {args.days} days before", hour)
        by_policy = {r.target_rp: [x for x in rollups(rcfg) if x.target_rp == r.target_rp] for r in rollups(rcfg)}
        dense_hour = int(dense - dense % HOUR)
        template_day = dense_hour - 86400  # the last of the days before: hourly_rollup repeats it
        for rp, lo in ((HOUR_RP, dense_hour), (SITE_MINUTE_RP, dense - HOUR), (SITE_HOUR_RP, template_day)):
            where = f"time >= '{_rfc3339(lo)}' AND time < '{_rfc3339(end + HOUR)}'"
            t0 = time.perf_counter()
            gate = asyncio.Semaphore(2)  # two queries at a time: InfluxDB runs each on one core

            async def run(r: Rollup, where: str = where, gate: asyncio.Semaphore = gate) -> None:
                async with gate:
                    await client.query(r.select(db, where))

            await asyncio.gather(*(run(r) for r in by_policy[rp]))
            print(f"  {rp} by the continuous queries' SELECT ... INTO: {time.perf_counter() - t0:.0f} s", flush=True)
        t0 = time.perf_counter()
        first = int(start - start % HOUR)
        counts[SITE_HOUR_RP] = copy_rows(url, db, SITE_HOUR_RP, template_day, dense_hour,
                                         lambda t: range(-86400, first - 1 - t, -86400))
        print(f"  {SITE_HOUR_RP} of the days before: the last one's rows copied to the others "
              f"({counts[SITE_HOUR_RP]:,} rows): {time.perf_counter() - t0:.0f} s", flush=True)
        t0 = time.perf_counter()
        step, stop = int(args.step), int(end)
        counts[SITE_MINUTE_RP] = copy_rows(url, db, SITE_MINUTE_RP, int(dense - HOUR), stop + 60,
                                           lambda t: range(60, min(step, stop - t), 60))
        print(f"  {SITE_MINUTE_RP}: each round's rows copied to the minutes until the next round, as at the "
              f"probes' 30-60 s intervals every minute of a site has data ({counts[SITE_MINUTE_RP]:,} rows): "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
        return counts, fleet
    finally:
        await client.close()


def cells(url: str, db: str, t: Target, values: dict[str, str], runs: int) -> tuple[list[str], dict[str, float]]:
    """One row of the table, and the time on the policy the dashboard picks per range."""
    site = t.dashboard in SITE_BOARDS
    picks = {"24h": SITE_MINUTE_RP if site else RAW, "30d": SITE_HOUR_RP if site else HOUR_RP}
    out, picked = [], {}
    for label, rp in COLUMNS:
        uses_rp = "$rp" in t.query
        if ((uses_rp and rp == RAW and label == "30d") or (not uses_rp and rp != RAW)
                or (not site and rp in (SITE_MINUTE_RP, SITE_HOUR_RP))):
            out.append("–")  # raw is seeded for the dense day only; a raw-only panel has one policy
            continue
        tf, interval = RANGES[label]
        q = substitute(t.query, {**values, "rp": rp}, tf, interval)
        is_pick = rp == picks[label] or not uses_rp
        best = min(run_query(url, db, q)[0] for _ in range(runs if is_pick else 1))
        out.append(f"**{best * 1000:.0f}**" if is_pick else f"{best * 1000:.0f}")
        if is_pick:
            picked[label] = best
    return out, picked


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--communes", type=int, default=148)
    p.add_argument("--pcs", type=int, default=10, help="office PCs per site (plus a gateway agent); 0: one "
                   "agent per site doing everything")
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--dense-hours", type=int, default=24)
    p.add_argument("--step", type=float, default=900.0, help="seconds between an agent's rounds in the dense "
                   "hours (>= 60)")
    p.add_argument("--runs", type=int, default=2)
    args = p.parse_args(argv)
    if args.step < 60:
        p.error("--step must be at least 60 s (each raw round is one 1-minute rollup row)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop InfluxDB and remove its files on kill
    workdir = Path(tempfile.mkdtemp(prefix="bench-dash-"))
    port = stack.free_port()
    svc = stack.influxdb(workdir / "influxdb", port, stack.free_port())
    svc.start()
    url, db = f"http://127.0.0.1:{port}", "bench"
    t_start = time.perf_counter()
    try:
        counts, fleet = asyncio.run(seed(url, db, args))
        agents = fleet.inventory.agents.values()
        sites = {(a.commune.code, a.site) for a in agents}
        gateways = sum(a.role == "gateway" for a in agents)
        print(f"\nscale: {args.communes} communes, {len(sites)} sites, {len(fleet.inventory.agents)} agents "
              f"({gateways} gateways + {len(fleet.inventory.agents) - gateways} PCs); raw: last {args.dense_hours} h, "
              f"a round every {args.step:.0f} s: {counts[RAW]:,} points; rp_1m: {counts[MINUTE_RP]:,} rows; "
              f"rp_1h: {counts[HOUR_RP]:,} rows written for the {args.days} days before (one round per hour) "
              f"+ the dense day's; rp_site_1h: {counts[SITE_HOUR_RP]:,} rows copied + the last 2 days' computed; seeding took {time.perf_counter() - t_start:.0f} s; "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
        commune = sorted(a.commune.code for a in agents if a.site == "site-2")[0]
        values = {"commune": commune, "site": ".*", "agent": ".*", "service": ".*"}
        print("\nbold: the policy the dashboard picks (province-wide: site-level rollups; commune detail: raw up "
              "to 2 days, per-agent rollups beyond)\n")
        print("| panel | query | 24h raw | 24h 1m | 24h site 1m | 30d raw | 30d 1h | 30d site 1h |\n"
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        worst = {"24h": (0.0, ""), "30d": (0.0, "")}
        for t in influxql_targets():
            row, picked = cells(url, db, t, values, args.runs)
            print(f"| {t.dashboard} / {t.panel} | {t.ref_id} | " + " | ".join(row) + " |", flush=True)
            if t.dashboard in SITE_BOARDS:
                for label, s in picked.items():
                    if s > worst[label][0]:
                        worst[label] = (s, t.id)
        print("\nrows a query over the range scans (load-independent; a field of each measurement):\n\n"
              "| measurement | 24h raw | 24h 1m | 24h site 1m | 30d 1h | 30d site 1h |\n"
              "| --- | ---: | ---: | ---: | ---: | ---: |")
        for m in sorted(range_measurements()):
            field = next(iter(ROLLUPS[m]))
            n = [sum(row[1] for s in fetch(url, db, f'SELECT count("{field}") FROM "{rp}"."{m}" WHERE '
                                                     f'{RANGES[label][0]}') for row in s["values"])
                 for label, rp in COLUMNS if rp != RAW or label == "24h"]
            print(f"| {m} | " + " | ".join(f"{x:,}" for x in n) + " |")
        for label in ("24h", "30d"):
            print(f"\nslowest province-wide {label} query on the policy the dashboard picks: "
                  f"{worst[label][0] * 1000:.0f} ms ({worst[label][1]})")
        print(f"whole run {time.perf_counter() - t_start:.0f} s; load average now {os.getloadavg()[0]:.1f}")
        return 0 if worst["30d"][0] <= 2.0 else 1
    finally:
        svc.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
