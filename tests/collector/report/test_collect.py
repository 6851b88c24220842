"""The data layer against a real InfluxDB holding a month whose outages are known to the minute."""

from __future__ import annotations

import datetime as dt
import math

from collector.config import Inventory
from collector.influx import V1Writer
from collector.report.collect import collect
from collector.report.model import MonthData
from collector.report.period import OfficeHours
from tests.support import report_seed as s
from tests.support.services import Influx

CODES = [s.A, s.B, s.C]
OFFICE = 9450 - 120  # 21 office days x 450 min, minus the 2 h maintenance window


async def _month(client: V1Writer, office: OfficeHours, inventory: Inventory) -> MonthData:
    return await collect(client, client.cfg.database, s.YEAR, s.MONTH, office, inventory, 25, CODES)


def _site(d: MonthData, code: str, site: str):  # type: ignore[no-untyped-def]
    return next(x for x in d.communes[code].sites if x.site == site)


def _p95(values: list[float]) -> float:
    values = sorted(values)
    return values[math.floor(len(values) * 0.95 + 0.5) - 1]


async def test_connectivity_down_and_no_data_to_the_minute(client: V1Writer, office: OfficeHours,
                                                           inventory: Inventory) -> None:
    d = await _month(client, office, inventory)
    assert d.office_min == OFFICE
    main = _site(d, s.A, "tru-so-chinh")
    assert (main.reported_min, main.up_min, main.down_min, main.nodata_min) == (OFFICE, OFFICE - 1080, 1080, 0)
    assert main.loss_pct is not None and main.loss_pct > 0
    assert _site(d, s.A, "mot-cua").availability == 100.0
    nt = _site(d, s.B, "tru-so-chinh")
    assert (nt.reported_min, nt.down_min, nt.nodata_min) == (OFFICE - 2250, 0, 2250)
    assert nt.availability == 100.0
    assert round(nt.completeness, 4) == round(100 * (OFFICE - 2250) / OFFICE, 4)
    nvh = _site(d, s.C, "nha-van-hoa")
    assert (nvh.reported_min, nvh.nodata_min, nvh.availability) == (0, OFFICE, None)
    assert d.communes[s.A].availability == 100 * (2 * OFFICE - 1080) / (2 * OFFICE)
    assert (d.communes[s.C].sites_inventory, d.communes[s.C].sites_reporting) == (2, 1)
    assert d.communes[s.B].coverage == 100.0
    assert "dữ liệu gốc" in d.source_note


async def test_portals_incidents_tokens_devices(client: V1Writer, office: OfficeHours, inventory: Inventory) -> None:
    d = await _month(client, office, inventory)
    (pa,), (pb,), (pc,) = (d.communes[c].portals for c in CODES)
    assert (pa.service, pa.reported_min, pa.down_min) == ("dichvucong", OFFICE, 1080 + 120)
    assert (pb.reported_min, pb.down_min) == (OFFICE - 2250, 0)
    assert (pc.reported_min, pc.down_min) == (OFFICE, 120)
    expected_c = [s.http_ms(t) for t in s.office_minutes() if not s.portal_down(t)]
    assert pc.p95_ms == _p95(expected_c)
    a = d.communes[s.A]
    assert (a.incidents, a.downtime_min, a.mttr_min) == (3, 1080, 360)
    assert d.communes[s.C].incidents == 0
    (inc,) = d.province_incidents
    assert (inc.alertname, inc.service, inc.duration_min, inc.communes) == ("PortalDown", "dichvucong", 120, 2)
    assert inc.started == dt.datetime(2026, 10, 14, 7, 0, tzinfo=dt.UTC)
    assert (a.tokens_seen, a.tokens_valid) == (2, 2)
    (cert,) = a.expiring
    assert (cert.token, cert.subject, cert.not_after) == ("tok-a1", "Nguyễn Văn An", dt.datetime(2026, 11, 10, 3, tzinfo=dt.UTC))
    assert (d.communes[s.C].tokens_seen, d.communes[s.C].tokens_valid) == (1, 0)
    assert a.reboots == 2
    assert d.communes[s.C].saturation_h == 1.5


async def test_reads_the_rollup_rp_when_present(influx_server: Influx, office: OfficeHours, inventory: Inventory) -> None:
    db = "report_rollup"
    influx_server.create(db)
    influx_server.query(f'CREATE RETENTION POLICY "rp_1m" ON "{db}" DURATION 730d REPLICATION 1', db)
    s.seed(influx_server.url, db, rp="rp_1m")
    from collector.config import InfluxSection

    w = V1Writer(InfluxSection(url=influx_server.url, database=db))
    try:
        d = await collect(w, db, s.YEAR, s.MONTH, office, inventory, 25, [s.A])
    finally:
        await w.close()
    assert "rp_1m" in d.source_note
    assert _site(d, s.A, "tru-so-chinh").down_min == 1080
