"""The overview's open-alerts panel: its matcher, sent as Alertmanager's API filter (what the panel data source
does), selects the collector's alerts in a real Alertmanager."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from devstack import services as stack
from tests.dashboards.panels import targets
from tests.support.services import need_binary, wait_for

pytestmark = pytest.mark.integration


def _alerts(url: str, expr: str) -> list[dict[str, Any]]:
    """As the panel data source sends it: the braces stripped, one ``filter`` parameter per matcher."""
    matchers = [m.strip() for m in expr.strip().removeprefix("{").removesuffix("}").split(",") if m.strip()]
    params = [("filter", m) for m in matchers] + [("active", "true"), ("silenced", "false"), ("inhibited", "false")]
    q = urllib.parse.urlencode(params)
    with urllib.request.urlopen(f"{url}/api/v2/alerts?{q}", timeout=5) as r:
        return list(json.loads(r.read()))


def test_open_alerts_panel_matches_the_provinces_alerts(tmp_path: Path) -> None:
    need_binary("prometheus-alertmanager")
    panel = [t for t in targets() if t.datasource.get("uid") == "cm-alertmanager-panels"]
    assert len(panel) == 1 and panel[0].body["active"] is True
    port = stack.free_port()
    svc = stack.alertmanager(tmp_path / "am", port)
    svc.start()
    try:
        url = f"http://127.0.0.1:{port}"
        now = dt.datetime.now(dt.UTC)
        alerts = [{"labels": {"alertname": "CommuneLinkDown", "province": prov, "commune": code},
                   "annotations": {"summary": "Mất kết nối"}, "startsAt": now.isoformat()}
                  for prov, code in (("25", "07900"), ("1", "00004"))]
        req = urllib.request.Request(f"{url}/api/v2/alerts", json.dumps(alerts).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=5).close()
        got = wait_for(lambda: _alerts(url, panel[0].body["expr"]), what="the province's alert")
        assert [a["labels"]["commune"] for a in got] == ["07900"]
    finally:
        svc.stop()
