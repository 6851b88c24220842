"""Gather one month's figures from InfluxDB with server-side InfluxQL aggregations.

Connectivity of a site in one minute: the maximum of ``ping.ok`` over its non-gateway targets (1 = at least
one target answered). A minute with points is *reported*; reported minutes that are not up are *down*; office
minutes without any point are *no data* (agent off, not deployed, or its data lost). Per-minute buckets are
computed inside InfluxDB (sub-query ``GROUP BY time(1m)``) and only counted/summed rows come back, one query
per office interval (InfluxQL has no OR between time ranges).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

from collector.config import Inventory
from collector.registry import communes as province_communes
from collector.report.influxql import Queryable, Source, between, commune_filter, flatten, pick_source
from collector.report.model import (
    CommuneFigures,
    ExpiringCert,
    MonthData,
    PortalFigures,
    ProvinceIncident,
    SiteFigures,
)
from collector.report.period import Interval, OfficeHours, month_bounds, next_month

Progress = Callable[[str], None]


def _f(v: Any) -> float:
    return float(v) if v is not None else 0.0


async def _minutes(client: Queryable, src: Source, measurement: str, field: str, where: str, by: str,
                   intervals: list[Interval], parallel: int = 4) -> dict[tuple[str, ...], tuple[float, float]]:
    """(tag values of ``by``) -> (up minutes, reported minutes) over the office intervals."""
    keys = [k.strip().strip('"') for k in by.split(",")]
    sem = asyncio.Semaphore(parallel)
    totals: dict[tuple[str, ...], tuple[float, float]] = {}

    async def one(s: dt.datetime, e: dt.datetime) -> list[dict[str, Any]]:
        rng = between(s, e)
        q = (f'SELECT sum("m") AS up, count("m") AS reported FROM (SELECT max("{field}") AS m FROM {src.m(measurement)} '
             f"WHERE {rng}{where} GROUP BY time(1m), {by} fill(none)) WHERE {rng} GROUP BY {by}")
        async with sem:
            return flatten(await client.query(q))

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(one(s, e)) for s, e in intervals]
    for t in tasks:
        for row in t.result():
            k = tuple(str(row.get(x, "")) for x in keys)
            up, rep = totals.get(k, (0.0, 0.0))
            totals[k] = (up + _f(row.get("up")), rep + _f(row.get("reported")))
    return totals


async def collect(client: Queryable, database: str, year: int, month: int, office: OfficeHours,
                  inventory: Inventory, province: int, codes: list[str] | None = None,
                  progress: Progress | None = None) -> MonthData:
    say = progress or (lambda _msg: None)
    src = await pick_source(client, database)
    known = province_communes(province)
    wanted = codes or sorted(known)
    flt = commune_filter(codes) + f" AND \"province\" = '{province}'"
    start, end = month_bounds(year, month)
    month_rng = between(start, end)
    intervals = office.intervals(year, month)
    office_min = office.minutes(year, month)
    pname = next(iter(known.values())).province_name if known else str(province)
    data = MonthData(year, month, province, pname, office_min, src.note)
    for code in wanted:
        c = known.get(code)
        data.communes[code] = CommuneFigures(code, c.name if c else code)
    inv_sites: dict[str, set[str]] = {}
    for ident in inventory.agents.values():
        if ident.commune.code in data.communes:
            inv_sites.setdefault(ident.commune.code, set()).add(ident.site)
    sites: dict[tuple[str, str], SiteFigures] = {}
    for code, names in inv_sites.items():
        for s in sorted(names):
            sites[(code, s)] = SiteFigures(code, s, office_min)

    say("connectivity")
    conn = await _minutes(client, src, "ping", "ok", f"{flt} AND \"role\" != 'gateway'", '"commune", "site"', intervals)
    for (code, site), (up, rep) in conn.items():
        if code in data.communes:
            sf = sites.setdefault((code, site), SiteFigures(code, site, office_min, in_inventory=False))
            sf.up_min, sf.reported_min = up, rep
    say("loss and RTT")
    for row in flatten(await client.query(
            f'SELECT mean("loss_percent") AS loss, mean("rtt_avg_ms") AS rtt FROM {src.m("ping")} '
            f"WHERE {month_rng}{flt} AND \"role\" != 'gateway' GROUP BY \"commune\", \"site\"")):
        sf2 = sites.get((row["commune"], row["site"]))
        if sf2 is not None:
            sf2.loss_pct = row.get("loss")
            sf2.rtt_ms = row.get("rtt")
    for (code, _), sf in sorted(sites.items()):
        data.communes[code].sites.append(sf)

    say("portals")
    portals = await _minutes(client, src, "http", "ok", flt, '"commune", "service"', intervals)
    p95 = {(r["commune"], r["service"]): r.get("p95") for r in flatten(await client.query(
        f'SELECT percentile("total_ms", 95) AS p95 FROM {src.m("http")} WHERE {month_rng}{flt} '
        f'GROUP BY "commune", "service"'))}
    for (code, service), (up, rep) in sorted(portals.items()):
        if code in data.communes:
            data.communes[code].portals.append(PortalFigures(code, service, up, rep, p95.get((code, service))))

    say("incidents")
    await _incidents(client, src, data, month_rng, flt)
    say("signatures")
    await _tokens(client, src, data, month_rng, flt, end, year, month)
    say("network devices")
    for row in flatten(await client.query(
            f'SELECT sum("rebooted") AS reboots FROM {src.m("snmp_device")} WHERE {month_rng}{flt} GROUP BY "commune"')):
        if row["commune"] in data.communes:
            data.communes[row["commune"]].reboots = int(_f(row.get("reboots")))
    for row in flatten(await client.query(
            f'SELECT sum("m") AS minutes FROM (SELECT max("uplink_saturated") AS m FROM {src.m("snmp_device")} '
            f'WHERE {month_rng}{flt} GROUP BY time(1m), "commune", "device" fill(none)) WHERE {month_rng} '
            f'GROUP BY "commune"')):
        if row["commune"] in data.communes:
            data.communes[row["commune"]].saturation_h = _f(row.get("minutes")) / 60.0
    say("agent coverage")
    reporting: dict[str, set[str]] = {}
    for row in flatten(await client.query(
            f'SELECT count("connected") AS n FROM {src.m("agent")} WHERE {month_rng}{flt} GROUP BY "commune", "site"')):
        reporting.setdefault(row["commune"], set()).add(row["site"])
    for code, cf in data.communes.items():
        inv = inv_sites.get(code, set())
        cf.sites_inventory = len(inv)
        cf.sites_reporting = len(inv & reporting.get(code, set()))
    return data


def _alerts_where(month_rng: str, flt: str, scope: str) -> str:
    """A commune's incidents leave out symptoms (``kind`` = symptom): their cause is one incident, counted
    once (a province-wide one in the province's list, a site-link outage as the commune's own)."""
    own = " AND \"kind\" != 'symptom'" if scope == "commune" else ""
    return f"WHERE {month_rng}{flt if scope == 'commune' else ''} AND \"scope\" = '{scope}'{own}"


async def _incidents(client: Queryable, src: Source, data: MonthData, month_rng: str, flt: str) -> None:
    """Alert history (measurement ``alerts``, one point per resolved alert with ``duration_s``; docs/report.md)."""
    for row in flatten(await client.query(
            f'SELECT count("duration_s") AS n, sum("duration_s") AS total FROM {src.m("alerts")} '
            f'{_alerts_where(month_rng, flt, "commune")} GROUP BY "commune"')):
        cf = data.communes.get(row["commune"])
        if cf is not None:
            cf.incidents = int(_f(row.get("n")))
            cf.downtime_min = _f(row.get("total")) / 60.0
    rows = flatten(await client.query(
        f'SELECT "duration_s", "started_at", "communes" FROM {src.m("alerts")} '
        f'{_alerts_where(month_rng, flt, "province")} GROUP BY "alertname", "service"'))
    for row in rows:
        if row.get("duration_s") is None:
            continue
        started = dt.datetime.fromtimestamp(int(_f(row.get("started_at"))), dt.UTC)
        data.province_incidents.append(ProvinceIncident(
            str(row.get("alertname", "")), str(row.get("service", "")), started,
            _f(row["duration_s"]) / 60.0, int(_f(row.get("communes")))))
    data.province_incidents.sort(key=lambda i: i.started)


async def _tokens(client: Queryable, src: Source, data: MonthData, month_rng: str, flt: str,
                  month_end: dt.datetime, year: int, month: int) -> None:
    ny, nm = next_month(year, month)
    nstart, nend = month_bounds(ny, nm)
    seen: dict[str, set[str]] = {}
    for row in flatten(await client.query(
            f'SELECT max("present") AS present FROM {src.m("token")} WHERE {month_rng}{flt} GROUP BY "commune", "token"')):
        if row.get("token") and _f(row.get("present")) >= 1:
            seen.setdefault(row["commune"], set()).add(row["token"])
    valid: dict[str, set[str]] = {}
    expiring: dict[str, list[ExpiringCert]] = {}
    for row in flatten(await client.query(
            f'SELECT last("not_after") AS not_after, last("can_sign") AS can_sign FROM {src.m("token_cert")} '
            f'WHERE {month_rng}{flt} GROUP BY "commune", "token", "serial", "subject", "issuer"')):
        code, token = row["commune"], row.get("token", "")
        na = dt.datetime.fromtimestamp(int(_f(row.get("not_after"))), dt.UTC)
        if na > month_end and _f(row.get("can_sign")) >= 1:
            valid.setdefault(code, set()).add(token)
        if nstart <= na < nend:
            expiring.setdefault(code, []).append(
                ExpiringCert(code, token, str(row.get("subject", "")), str(row.get("issuer", "")), na))
    for code, cf in data.communes.items():
        cf.tokens_seen = len(seen.get(code, set()) | valid.get(code, set()))
        cf.tokens_valid = len(valid.get(code, set()))
        cf.expiring = sorted(expiring.get(code, []), key=lambda e: e.not_after)


def commune_codes(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [f"{int(c):05d}" if c.strip().isdigit() else c.strip() for c in text.split(",") if c.strip()]


