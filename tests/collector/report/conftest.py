"""A real InfluxDB seeded once per module with the known month of tests/support/report_seed.py."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from collector.config import InfluxSection, parse_inventory
from collector.influx import V1Writer
from collector.report.period import OfficeHours, parse_window
from tests.support import report_seed
from tests.support.services import Influx


@pytest.fixture(scope="module")
def seeded(influx_server: Influx) -> tuple[Influx, str]:
    db = f"report_{uuid.uuid4().hex[:8]}"
    influx_server.create(db)
    report_seed.seed(influx_server.url, db)
    return influx_server, db


@pytest.fixture
async def client(seeded: tuple[Influx, str]) -> AsyncIterator[V1Writer]:
    influx, db = seeded
    w = V1Writer(InfluxSection(url=influx.url, database=db))
    yield w
    await w.close()


@pytest.fixture
def office() -> OfficeHours:
    return OfficeHours(holidays=frozenset({report_seed.HOLIDAY}), maintenance=(parse_window(report_seed.MAINTENANCE),))


@pytest.fixture
def inventory():  # type: ignore[no-untyped-def]
    return parse_inventory(report_seed.FLEET, "test fleet")
