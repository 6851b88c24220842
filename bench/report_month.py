"""Time and peak memory of a monthly report for all 148 communes of Phú Thọ (docs/report.md, Cost).

Starts its own InfluxDB, writes a month of office-hour data (ping every 30 s, portal every 60 s, one site per
commune), then produces this month's report (with the previous month) in all four formats.
Usage: PYTHONPATH=. python bench/report_month.py
"""

from __future__ import annotations

import asyncio
import resource
import tempfile
import time
import urllib.request
from pathlib import Path

from collector.config import InfluxSection, parse_inventory
from collector.influx import V1Writer
from collector.registry import communes
from collector.report.progress import Progress
from collector.report.run import ReportJob, produce
from tests.support import report_seed
from tests.support.services import Influx, start_influx


def seed(influx: Influx, db: str, codes: list[str]) -> int:
    buf: list[str] = []
    n = 0

    def flush() -> None:
        req = urllib.request.Request(f"{influx.url}/write?db={db}&precision=s", data="\n".join(buf).encode(),
                                     method="POST")
        with urllib.request.urlopen(req, timeout=120) as r:
            r.read()
        buf.clear()

    for t in report_seed.office_minutes():
        ts = int(t.timestamp())
        for c in codes:
            tg = f"province=25,commune={c},site=tru-so-chinh,agent=a{c}"
            for sec in (0, 30):
                buf.append(f"ping,{tg},target=x,name=vnpt-dns,role=isp_dns ok=1i,loss_percent=0.0,rtt_avg_ms=20.0 {ts + sec}")
            buf.append(f"http,{tg},service=dichvucong ok=1i,total_ms=150.0 {ts}")
            n += 3
        if len(buf) >= 20000:
            flush()
    flush()
    return n


def main() -> None:
    work = Path(tempfile.mkdtemp())
    influx = start_influx(work / "influx")
    try:
        db = "bench"
        influx.create(db)
        codes = sorted(communes(25))
        t0 = time.monotonic()
        n = seed(influx, db, codes)
        print(f"seeded {n} points in {time.monotonic() - t0:.0f} s")
        fleet = {"agents": {f"a{c}": {"commune": c, "site": "tru-so-chinh"} for c in codes}}

        async def go() -> float:
            w = V1Writer(InfluxSection(url=influx.url, database=db, timeout=300))
            job = ReportJob(2026, 10, db, parse_inventory(fleet, "bench"), out_dir=work / "out")
            t = time.monotonic()
            try:
                await produce(w, job, Progress(1, enabled=False))
            finally:
                await w.close()
            return time.monotonic() - t

        elapsed = asyncio.run(go())
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"report, {len(codes)} communes, this + previous month, 4 formats: {elapsed:.1f} s; peak RSS {rss:.0f} MB")
        print(f"files in {work / 'out'}")
    finally:
        influx.service.stop()


if __name__ == "__main__":
    main()
