"""Engine behaviour: for, hysteresis, absence, office hours, correlation storms, escalation, restart."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from collector.alerts.calendar import OfficeCalendar
from tests.collector.alerts.helpers import MONDAY_9, VN, engine, feed, firing, point, subject

PORTAL = {"service": "dichvucong", "url": "https://dichvucong.gov.vn/"}


def test_for_and_hysteresis() -> None:
    eng, s = engine(), subject()
    tags = {"path": "C:\\"}
    t = feed(eng, s, "host_disk", MONDAY_9, 9, {"percent": 95.0}, **tags)
    assert not firing(eng, t, "DiskAlmostFull")  # for: 10m not yet reached
    t = feed(eng, s, "host_disk", t, 2, {"percent": 95.0}, **tags)
    alert = firing(eng, t, "DiskAlmostFull")
    assert alert
    starts = next(a.starts_at for a in eng.active_alerts(t) if a.labels["alertname"] == "DiskAlmostFull")
    assert starts == MONDAY_9 + timedelta(minutes=10)
    t = feed(eng, s, "host_disk", t, 30, {"percent": 88.0}, **tags)  # below fire, above clear (85)
    assert firing(eng, t, "DiskAlmostFull")
    t = feed(eng, s, "host_disk", t, 1, {"percent": 50.0}, **tags)
    assert not firing(eng, t, "DiskAlmostFull")


def test_absence_detected_with_no_points_and_gateway_always() -> None:
    eng = engine()
    gw = subject("gw-01", role="gateway")
    night = datetime(2026, 11, 29, 23, 0, tzinfo=VN)  # Sunday night: gateways are watched anyway
    eng.register(gw, night)
    eng.evaluate(night + timedelta(minutes=4))
    assert not firing(eng, night + timedelta(minutes=4), "AgentOffline")
    eng.evaluate(night + timedelta(minutes=6))
    labels = firing(eng, night + timedelta(minutes=6), "AgentOffline")
    assert labels and labels[0]["severity"] == "critical" and labels[0]["scope"] == "site"
    back = night + timedelta(minutes=10)
    eng.observe(gw, [point("agent", back, {"connected": 1})])
    eng.evaluate(back)
    assert not firing(eng, back, "AgentOffline")


def test_office_pc_offline_only_in_office_hours_weekend_and_holiday() -> None:
    cal = OfficeCalendar()
    assert cal.is_office_time(MONDAY_9)
    assert not cal.is_office_time(datetime(2026, 11, 28, 9, 0, tzinfo=VN))  # Saturday
    assert not cal.is_office_time(datetime(2026, 9, 2, 9, 0, tzinfo=VN))  # Quốc khánh
    assert not cal.is_office_time(datetime(2026, 11, 30, 18, 0, tzinfo=VN))
    eng, pc = engine(), subject()
    friday_evening = datetime(2026, 11, 27, 16, 0, tzinfo=VN)
    eng.observe(pc, [point("agent", friday_evening, {"connected": 1})])
    eng.evaluate(friday_evening + timedelta(minutes=20))
    assert firing(eng, friday_evening + timedelta(minutes=20), "AgentOffline")
    evening = datetime(2026, 11, 27, 17, 5, tzinfo=VN)
    eng.evaluate(evening)
    assert not firing(eng, evening, "AgentOffline")  # policy: resolve when office hours end
    for moment in (datetime(2026, 11, 28, 10, 0, tzinfo=VN), datetime(2026, 11, 30, 7, 40, tzinfo=VN)):
        eng.evaluate(moment)
        assert not firing(eng, moment, "AgentOffline")  # weekend; Monday before office start + 15m
    eng.evaluate(datetime(2026, 11, 30, 7, 46, tzinfo=VN))
    assert firing(eng, datetime(2026, 11, 30, 7, 46, tzinfo=VN), "AgentOffline")
    holiday = datetime(2026, 9, 2, 10, 0, tzinfo=VN)
    eng2 = engine()
    eng2.register(pc, holiday - timedelta(hours=2))
    eng2.evaluate(holiday)
    assert not firing(eng2, holiday, "AgentOffline")


def _portal_storm(n: int, failing: int, start: datetime = MONDAY_9):
    eng = engine()
    subs = [subject(f"pc-{i:02d}", commune=f"{8000 + i:05d}") for i in range(n)]
    t = start
    for _ in range(12):
        for i, s in enumerate(subs):
            eng.observe(s, [point("http", t, {"result": "read_timeout" if i < failing else "ok"}, **PORTAL)])
        eng.evaluate(t)
        t += timedelta(minutes=1)
    return eng, t


def test_thirty_commune_portal_storm_is_one_incident_and_thirty_symptoms() -> None:
    eng, t = _portal_storm(40, 30)
    alerts = [a for a in eng.active_alerts(t) if a.ends_at is None]
    incidents = [a for a in alerts if a.labels["kind"] == "incident"]
    symptoms = [a for a in alerts if a.labels["kind"] == "symptom"]
    assert len(incidents) == 1 and len(symptoms) == 30
    assert incidents[0].labels["alertname"] == "PortalIncident"
    assert incidents[0].labels["scope"] == "province" and "commune" not in incidents[0].labels
    assert {a.labels["incident_id"] for a in symptoms} == {"portal:dichvucong"}
    assert all(a.labels["alertname"] == "PortalDown" for a in symptoms)
    assert not [a for a in alerts if a.labels["kind"] == "alert"]


def test_two_communes_failing_is_no_incident() -> None:
    eng, t = _portal_storm(40, 2)
    alerts = [a for a in eng.active_alerts(t) if a.ends_at is None]
    assert {a.labels["kind"] for a in alerts} == {"alert"} and len(alerts) == 2


def _site_down(eng, s, start: datetime) -> datetime:
    t = start
    for _ in range(6):
        eng.observe(s, [point("ping", t, {"result": "unreachable", "loss_percent": 100.0},
                              name=name, role=role, target=name)
                        for name, role in (("gw", "gateway"), ("google", "public"), ("vnpt-dns", "isp_dns"))])
        eng.evaluate(t)
        t += timedelta(minutes=1)
    return t


def test_site_link_down_marks_the_sites_per_target_alerts() -> None:
    eng = engine()
    s = subject("gw-07900", site="tru-so", role="gateway", isp="VNPT")
    t = _site_down(eng, s, MONDAY_9)
    alerts = [a for a in eng.active_alerts(t) if a.ends_at is None]
    link = [a for a in alerts if a.labels["alertname"] == "SiteLinkDown"]
    assert len(link) == 1 and link[0].labels["kind"] == "incident"
    assert link[0].labels["incident_id"] == "sitelink:07900/tru-so" and link[0].labels["scope"] == "site"
    targets = [a for a in alerts if a.labels["alertname"] == "TargetUnreachable"]
    assert len(targets) == 3
    assert all(a.labels["kind"] == "symptom" and a.labels["incident_id"] == "sitelink:07900/tru-so"
               for a in targets)


def test_isp_outage_over_three_sites() -> None:
    eng = engine()
    sites = [subject(f"gw-{i}", commune=f"{8000 + i:05d}", role="gateway", isp="VNPT") for i in range(3)]
    t = MONDAY_9
    for _ in range(6):
        for s in sites:
            eng.observe(s, [point("ping", t, {"result": "unreachable"}, name=n, role=r, target=n)
                            for n, r in (("gw", "gateway"), ("google", "public"))])
        eng.evaluate(t)
        t += timedelta(minutes=1)
    alerts = [a for a in eng.active_alerts(t) if a.ends_at is None]
    isp = [a for a in alerts if a.labels["alertname"] == "IspOutage"]
    assert len(isp) == 1 and isp[0].labels["incident_id"] == "isp:vnpt" and isp[0].labels["kind"] == "incident"
    links = [a for a in alerts if a.labels["alertname"] == "SiteLinkDown"]
    assert len(links) == 3 and all(a.labels["kind"] == "symptom" and a.labels["incident_id"] == "isp:vnpt"
                                   for a in links)
    targets = [a for a in alerts if a.labels["alertname"] == "TargetUnreachable"]
    assert targets and all(a.labels["incident_id"] == "isp:vnpt" for a in targets)


def test_escalation_unless_silenced() -> None:
    def run(silenced: bool) -> list[dict[str, str]]:
        eng = engine()
        s = subject()
        eng.silenced = (lambda a: a.labels["alertname"] == "PortalDown") if silenced else frozenset()
        t = feed(eng, s, "http", MONDAY_9, 70, {"result": "http_status"}, **PORTAL)
        return firing(eng, t, "PortalDown")

    escalated = run(False)
    assert len(escalated) == 1 and escalated[0]["escalated"] == "true"
    assert "escalated" not in run(True)[0]


def test_escalated_label_change_resolves_the_old_label_set() -> None:
    eng, s = engine(), subject()
    t = feed(eng, s, "http", MONDAY_9, 70, {"result": "http_status"}, **PORTAL)
    shown = [a for a in eng.active_alerts(t) if a.labels["alertname"] == "PortalDown"]
    assert {("escalated" in a.labels, a.ends_at is None) for a in shown} == {(True, True), (False, False)}


def test_restart_mid_pending_and_mid_firing(tmp_path: Path) -> None:
    state = tmp_path / "alerts.json"
    eng, s = engine(), subject()
    disk = {"path": "D:\\"}
    t = feed(eng, s, "http", MONDAY_9, 8, {"result": "read_timeout"}, **PORTAL)  # firing (for 5m)
    feed(eng, s, "host_disk", MONDAY_9 + timedelta(minutes=2), 6, {"percent": 99.0}, **disk)  # pending
    before = {a.fingerprint: a.starts_at for a in eng.active_alerts(t) if a.ends_at is None}
    assert len(before) == 1
    eng.save(state)
    eng2 = engine()
    assert eng2.load(state)
    t2 = feed(eng2, s, "http", t, 10, {"result": "read_timeout"}, **PORTAL)
    feed(eng2, s, "host_disk", t, 10, {"percent": 99.0}, **disk)
    eng2.evaluate(t2)
    after = {a.fingerprint: a for a in eng2.active_alerts(t2) if a.ends_at is None}
    for fp, starts in before.items():
        assert after[fp].starts_at == starts  # no re-fire with a new startsAt
    disk_alert = next(a for a in after.values() if a.labels["alertname"] == "DiskAlmostFull")
    assert disk_alert.starts_at == MONDAY_9 + timedelta(minutes=12)  # pending timer kept across the restart

