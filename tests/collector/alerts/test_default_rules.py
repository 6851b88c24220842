"""Each shipped rule fires on crafted points and clears again (with its hysteresis)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agent.wire import FieldValue
from tests.collector.alerts.helpers import MONDAY_9, engine, feed, firing, subject

# rule id -> (alertname, measurement, tags, firing fields, clearing fields)
CASES: dict[str, tuple[str, str, dict[str, str], dict[str, FieldValue], dict[str, FieldValue]]] = {
    "TargetUnreachable": ("TargetUnreachable", "ping", {"name": "google", "role": "public", "target": "8.8.8.8"},
                          {"result": "unreachable", "loss_percent": 100.0}, {"result": "ok", "loss_percent": 0.0}),
    "HighLoss": ("HighLoss", "ping", {"name": "google", "role": "public", "target": "8.8.8.8"},
                 {"result": "ok", "loss_percent": 40.0}, {"result": "ok", "loss_percent": 0.0}),
    "DnsFailing": ("DnsFailing", "dns", {"resolver": "203.162.4.191", "resolver_name": "VNPT", "role": "isp",
                                         "query": "dichvucong.gov.vn"}, {"result": "timeout"}, {"result": "ok"}),
    "PortalDown": ("PortalDown", "http", {"service": "dvc-quoc-gia", "url": "https://x/"},
                   {"result": "read_timeout"}, {"result": "ok"}),
    "PortalSlow": ("PortalSlow", "http", {"service": "dvc-quoc-gia", "url": "https://x/"},
                   {"result": "ok", "total_ms": 9000.0}, {"result": "ok", "total_ms": 300.0}),
    "TokenMissing": ("TokenMissing", "token", {"module": "vnpt-ca"}, {"present": 0}, {"present": 1}),
    "cert-expiring-30d": ("CertificateExpiring", "token_cert", {"module": "m", "serial": "0a", "subject": "A",
                                                                 "issuer": "VNPT-CA"},
                          {"days_left": 20.0, "expired": 0}, {"days_left": 400.0, "expired": 0}),
    "cert-expiring-7d": ("CertificateExpiring", "token_cert", {"module": "m", "serial": "0a", "subject": "A",
                                                                "issuer": "VNPT-CA"},
                         {"days_left": 3.0, "expired": 0}, {"days_left": 400.0, "expired": 0}),
    "CertificateExpired": ("CertificateExpired", "token_cert", {"module": "m", "serial": "0a", "subject": "A",
                                                                "issuer": "VNPT-CA"},
                           {"days_left": -2.0, "expired": 1}, {"days_left": 400.0, "expired": 0}),
    "SigningMiddlewareDown": ("SigningMiddlewareDown", "token_middleware", {"name": "vnpt-plugin"},
                              {"result": "process_not_running"}, {"result": "ok"}),
    "RouterRebooted": ("RouterRebooted", "snmp_device", {"device": "router", "host": "192.168.1.1"},
                       {"rebooted": 1, "result": "ok"}, {"rebooted": 0, "result": "ok"}),
    "UplinkSaturated": ("UplinkSaturated", "snmp_device", {"device": "router", "host": "192.168.1.1"},
                        {"uplink_saturated": 1}, {"uplink_saturated": 0}),
    "InterfaceDown": ("InterfaceDown", "snmp_interface", {"device": "router", "interface": "Gi0/1",
                                                          "if_index": "1", "role": "uplink"},
                      {"oper_up": 0}, {"oper_up": 1}),
    "DiskAlmostFull": ("DiskAlmostFull", "host_disk", {"path": "C:\\"}, {"percent": 97.0}, {"percent": 50.0}),
    "ClockOff": ("ClockOff", "agent", {}, {"clock_offset_ms": -120000.0}, {"clock_offset_ms": 10.0}),
}


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_fires_then_clears(rule_id: str) -> None:
    alertname, m, tags, bad, good = CASES[rule_id]
    eng = engine()
    subj = subject()
    assert rule_id in eng.rules
    after = feed(eng, subj, m, MONDAY_9, 2, good, **tags)
    assert not firing(eng, after, alertname), "must not fire on good values"
    after = feed(eng, subj, m, after, 60, bad, **tags)
    fired = [a for a in eng.active_alerts(after) if a.labels["alertname"] == alertname and a.ends_at is None]
    assert fired, f"{rule_id} did not fire"
    alert = fired[0]
    assert alert.labels["commune"] == "07900" and alert.labels["kind"] == "alert"
    assert alert.annotations["summary"] and "?" not in alert.annotations["description"], alert.annotations
    if m == "http":  # points carry the service name only; the text shows the catalogue's display name
        assert "Cổng Dịch vụ công quốc gia" in alert.annotations["summary"], alert.annotations
    saw_resolved = False
    for _ in range(60):
        after = feed(eng, subj, m, after, 1, good, **tags)
        shown = [a for a in eng.active_alerts(after) if a.labels["alertname"] == alertname]
        saw_resolved |= any(a.ends_at is not None and a.starts_at == alert.starts_at for a in shown)
    assert not firing(eng, after, alertname), f"{rule_id} did not clear"
    assert saw_resolved, "the resolved alert (with endsAt) must be shown to the poster"


def test_queue_dropping_fires_on_an_increasing_counter_and_clears_an_hour_later() -> None:
    eng = engine()
    subj = subject()
    after = feed(eng, subj, "agent", MONDAY_9, 5, {"queue_dropped_total": 10})
    assert not firing(eng, after, "AgentQueueDropping")
    eng.observe(subj, [])
    from tests.collector.alerts.helpers import point
    eng.observe(subj, [point("agent", after, {"queue_dropped_total": 25})])
    eng.evaluate(after)
    assert firing(eng, after, "AgentQueueDropping")
    later = feed(eng, subj, "agent", after + timedelta(minutes=1), 30, {"queue_dropped_total": 25})
    assert firing(eng, later, "AgentQueueDropping")  # still within the hour
    later = feed(eng, subj, "agent", later, 40, {"queue_dropped_total": 25})
    assert not firing(eng, later, "AgentQueueDropping")
