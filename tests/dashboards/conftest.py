from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass

import pytest

from collector.config import CollectorConfig, CollectorFileConfig, InfluxSection
from collector.influx import make_influx_client
from collector.retention import Retention
from collector.retention_config import RetentionSection
from tests.dashboards import simulate
from tests.support.services import Influx

_dbs = itertools.count()
DAY = 86400


@dataclass
class Seeded:
    influx: Influx
    db: str
    fleet: simulate.Fleet
    start: float
    end: float


async def _setup(influx: Influx, db: str, seeded: Seeded) -> None:
    icfg = InfluxSection(url=influx.url, database=db)
    client = make_influx_client(icfg)
    try:
        retention = Retention(client, icfg, RetentionSection())
        await retention.ensure()
        cfg = CollectorConfig("simulated", CollectorFileConfig(influx=icfg), seeded.fleet.inventory)
        await retention.write_meta(cfg)
        simulate.write_lines(influx.url, db, simulate.lines(seeded.fleet, seeded.start, seeded.end, 300))
        # the continuous queries only roll up the intervals that just ended: roll up the seeded day by hand
        await retention.backfill(_rfc3339(seeded.start - 3600), _rfc3339(seeded.end + 3600))
    finally:
        await client.close()


def _rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


@pytest.fixture(scope="module")
def seeded(influx_server: Influx) -> Seeded:
    """A realistic day of a simulated province: 12 communes with agents (the other 136 without), every third
    on two sites; raw points every 5 minutes up to now, with the 1-minute and 1-hour rollups computed."""
    db = f"dash_{next(_dbs)}"
    influx_server.create(db)
    end = time.time() - 30
    s = Seeded(influx_server, db, simulate.fleet(12), end - DAY, end)
    asyncio.run(_setup(influx_server, db, s))
    return s
