"""InfluxQL building blocks: which retention policy to read, time ranges, tag filters, result rows.

The report reads the 1-minute rollup RP (``rp_1m``) when the database has it, else the default RP (raw
points) — the numbers are the same when the rollup keeps each field's name (``mean(x) AS x``); docs/report.md
records the assumption. Every query aggregates on the server (count/sum/mean/percentile, sub-queries with
``GROUP BY time(1m)``); no query returns raw points.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Protocol

ROLLUP_RP = "rp_1m"


class Queryable(Protocol):
    async def query(self, q: str) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Source:
    database: str
    rp: str  # "" = the database's default RP
    note: str

    def m(self, measurement: str) -> str:
        return f'"{self.database}"."{self.rp}"."{measurement}"' if self.rp else f'"{self.database}".."{measurement}"'


async def pick_source(client: Queryable, database: str) -> Source:
    rows = flatten(await client.query(f'SHOW RETENTION POLICIES ON "{database}"'))
    names = {str(r.get("name")) for r in rows}
    if ROLLUP_RP in names:
        return Source(database, ROLLUP_RP, f"đọc dữ liệu tổng hợp 1 phút (retention policy {ROLLUP_RP})")
    return Source(database, "", f"không có retention policy {ROLLUP_RP}: đọc dữ liệu gốc (retention policy mặc định)")


def ts(t: dt.datetime) -> str:
    return f"'{t.astimezone(dt.UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}'"


def between(start: dt.datetime, end: dt.datetime) -> str:
    return f"time >= {ts(start)} AND time < {ts(end)}"


_SAFE = re.compile(r"^[0-9A-Za-z_.-]+$")


def commune_filter(codes: list[str] | None) -> str:
    """`` AND "commune" =~ /^(a|b)$/`` for a list of codes, '' for all."""
    if not codes:
        return ""
    bad = [c for c in codes if not _SAFE.match(c)]
    if bad:
        raise ValueError(f"bad commune code(s): {bad}")
    return ' AND "commune" =~ /^(' + "|".join(codes) + ")$/"


def province_filter(province: int | None) -> str:
    return f" AND \"province\" = '{province}'" if province is not None else ""


def flatten(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Series -> rows: each row a dict of the series' tags plus its columns."""
    out: list[dict[str, Any]] = []
    for s in series:
        tags = s.get("tags") or {}
        cols = s.get("columns") or []
        for values in s.get("values") or []:
            row = dict(tags)
            row.update(zip(cols, values, strict=False))
            out.append(row)
    return out
