"""Alert history through the real collector: an alert fires and resolves -> the collector writes one
``alerts`` point (timestamped at the alert's end) to InfluxDB -> the monthly report counts the incident."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from collector.config import InfluxSection, parse_inventory
from collector.influx import V1Writer
from collector.report.collect import collect
from collector.report.period import OfficeHours
from collector.retention import Retention, RetentionSection
from tests.integration.test_alerting_end_to_end import PC, PC_OTHER, VIETTRI, Env
from tests.support.alert_stack import UNREACHABLE_TEXT, Publisher, am_alerts, mails
from tests.support.alerts_env import commune_mail
from tests.support.services import Influx, wait_for
from tests.support.smtp import SmtpSink

pytestmark = pytest.mark.integration
VN = ZoneInfo("Asia/Ho_Chi_Minh")


def test_resolved_alert_is_written_to_influxdb_and_counted_by_the_report(
        tmp_path: Path, mosquitto: int, influx: tuple[Influx, str], sink: SmtpSink) -> None:
    server, db = influx
    env = Env(tmp_path, mosquitto, influx, sink, agents=False, absent="1h")
    pub = Publisher(mosquitto, PC)
    try:
        began = time.time()
        for _ in range(5):
            pub.ping("dichvucong", "timeout")
            time.sleep(0.3)  # the pace of the fault itself (for: 1s), not a synchronisation
        wait_for(lambda: am_alerts(env.am, "alertname=TargetUnreachable"), 30, what="the alert firing")
        assert not server.rows('SELECT * FROM "alerts"', db), "nothing is written while the alert fires"
        for _ in range(5):
            pub.ping("dichvucong", "ok")
            time.sleep(0.3)
        wait_for(lambda: mails(sink, commune_mail(VIETTRI), UNREACHABLE_TEXT, resolved=True), 30,
                 what="the resolved notification")
        rows = wait_for(lambda: server.rows('SELECT * FROM "alerts"', db), 30, what="the alerts point")
    finally:
        pub.close()
        env.stop()
    assert len(rows) == 1, rows
    row = rows[0]
    assert (row["alertname"], row["commune"], row["site"], row["scope"], row["kind"], row["province"]) == (
        "TargetUnreachable", VIETTRI, "tru-so-chinh", "commune", "alert", "25")
    assert row["severity"] == "warning" and row["communes"] == 1
    ended = row["time"] / 1e9
    assert began - 1 <= row["started_at"] <= ended and row["duration_s"] == pytest.approx(ended - row["started_at"], abs=1.0)

    end_local = dt.datetime.fromtimestamp(ended, VN)
    inventory = parse_inventory({"agents": {PC: {"commune": VIETTRI, "site": "tru-so-chinh"},
                                            PC_OTHER: {"commune": "05089", "site": "main"}}}, "test fleet")

    cqs = [r["name"] for r in server.rows("SHOW CONTINUOUS QUERIES", db)]
    assert "cm_1m_alerts" in cqs, "the history is rolled up (kept 2 years) like the data the report reads"

    async def month() -> tuple[int, float]:
        section = InfluxSection(url=server.url, database=db)
        client = V1Writer(section)
        try:
            # what the continuous query does at the next minute (the report reads the 1-minute rollups)
            start = dt.datetime.fromtimestamp(row["started_at"] - 120, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            end = dt.datetime.fromtimestamp(ended + 120, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            await Retention(client, section, RetentionSection()).backfill(start, end)
            data = await collect(client, db, end_local.year, end_local.month, OfficeHours(), inventory, 25,
                                 [VIETTRI])
        finally:
            await client.close()
        return data.communes[VIETTRI].incidents, data.communes[VIETTRI].downtime_min

    incidents, downtime = asyncio.run(month())
    assert incidents == 1
    assert downtime == pytest.approx(row["duration_s"] / 60.0)
