"""Tables that show a time column ("Lần cuối", "Lúc") must show the newest point's own time.

InfluxQL gives a query with several selectors (``last(a), last(b)``) the start of the time range as its time,
and each ``last`` may come from a different point; ``dashboards.lib.newest`` selects the newest point of each
group instead (``ORDER BY time DESC LIMIT 1``)."""

from __future__ import annotations

import re
import time
import urllib.request
from typing import Any

import pytest

from dashboards.lib import newest
from tests.dashboards.panels import dashboards, panels
from tests.support.services import Influx

SELECTORS = re.compile(r"\b(last|first|max|min|mean|sum|count|median|percentile|bottom|top)\(", re.IGNORECASE)


def _shows_time(panel: dict[str, Any]) -> bool:
    for t in panel.get("transformations", []):
        if t.get("id") == "organize" and t["options"].get("excludeByName", {}).get("Time"):
            return False
    return True


def _innermost_selects(query: str) -> list[str]:
    """Each SELECT ... FROM clause of the query (a subquery's too)."""
    return re.findall(r"SELECT (.*?) FROM", query)


def test_tables_showing_a_time_never_take_it_from_several_selectors() -> None:
    checked = 0
    for board in dashboards().values():
        for p in panels(board):
            if p.get("type") != "table" or not _shows_time(p):
                continue
            for t in p.get("targets", []):
                for cols in _innermost_selects(t.get("query", "")):
                    assert len(SELECTORS.findall(cols)) <= 1, f"{p['title']}: {cols}"
                checked += 1
    assert checked >= 8


def _write(influx: Influx, db: str, lines: str) -> None:
    req = urllib.request.Request(f"{influx.url}/write?db={db}&precision=s", data=lines.encode(), method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 204


@pytest.mark.integration
def test_newest_gives_the_newest_points_time_and_fields(influx: tuple[Influx, str]) -> None:
    server, db = influx
    now = int(time.time())
    _write(server, db, "\n".join([
        f'http,agent=pc1,service=dvc ok=0i,result="timeout",reason="no answer in 10 s" {now - 600}',
        f'http,agent=pc1,service=dvc ok=1i,result="ok",total_ms=120.5 {now - 300}',
        f'http,agent=pc2,service=dvc ok=0i,result="refused",reason="port closed" {now - 200}',
    ]))
    q = newest({"result": "result", "reason": "reason", "ok": "ok"}, '"http"', "time > now() - 1h",
               '"agent", "service"')
    rows = {r["agent"]: r for r in server.rows(q, db)}
    assert rows["pc1"]["time"] == (now - 300) * 10**9
    assert (rows["pc1"]["result"], rows["pc1"]["reason"], rows["pc1"]["ok"]) == ("ok", None, 1)  # no stale reason
    assert rows["pc2"]["time"] == (now - 200) * 10**9
    assert rows["pc2"]["reason"] == "port closed"
    # why: two selectors in one query give the range start as the time, not the point's
    several = server.rows('SELECT last("result"), last("reason") FROM "http" WHERE time > now() - 1h '
                          'GROUP BY "agent"', db)
    assert all(r["time"] < (now - 600) * 10**9 for r in several)
