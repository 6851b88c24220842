"""The default rules' fast signals: a gateway's MQTT status (its last will) fires AgentOffline in seconds,
a short reconnect does not; a portal storm seen by communes at staggered times makes even the first
commune's alert a symptom (communes still pending count), so short commune group_waits send no storm."""

from __future__ import annotations

from datetime import timedelta

from tests.collector.alerts.helpers import MONDAY_9, engine, firing, point, subject

PORTAL = {"service": "dichvucong", "label": "Cổng DVC", "url": "https://dichvucong.gov.vn/"}


def _status(online: int, state: str) -> dict[str, int | str]:
    return {"online": online, "state": state}


def test_gateway_status_offline_fires_agent_offline_within_seconds_and_online_clears_it() -> None:
    eng = engine()
    gw = subject("gw-01", site="tru-so", role="gateway")
    eng.register(gw, MONDAY_9)
    eng.observe(gw, [point("agent_status", MONDAY_9, _status(1, "online"))])
    t = MONDAY_9 + timedelta(seconds=30)
    eng.observe(gw, [point("agent_status", t, _status(0, "offline"))])
    eng.evaluate(t + timedelta(seconds=5))
    assert not firing(eng, t + timedelta(seconds=5), "AgentOffline"), "a reconnect within 10 s is no alert"
    eng.evaluate(t + timedelta(seconds=10))
    fired = firing(eng, t + timedelta(seconds=10), "AgentOffline")
    assert len(fired) == 1 and fired[0]["site"] == "tru-so" and fired[0]["severity"] == "critical"
    # the absence backup (5 min) joins the same alert: still one
    later = t + timedelta(minutes=6)
    eng.evaluate(later)
    assert len(firing(eng, later, "AgentOffline")) == 1
    eng.observe(gw, [point("agent_status", later, _status(1, "online")),
                     point("agent", later, {"connected": 1})])
    eng.evaluate(later + timedelta(minutes=2))
    assert not firing(eng, later + timedelta(minutes=2), "AgentOffline")


def test_a_short_disconnect_and_an_office_pc_status_are_no_alert() -> None:
    eng = engine()
    gw = subject("gw-01", site="tru-so", role="gateway")
    pc = subject("pc-01", site="tru-so", role="pc")
    for s in (gw, pc):
        eng.register(s, MONDAY_9)
        eng.observe(s, [point("agent_status", MONDAY_9, _status(0, "offline"))])
    eng.observe(gw, [point("agent_status", MONDAY_9 + timedelta(seconds=4), _status(1, "online"))])
    eng.evaluate(MONDAY_9 + timedelta(seconds=30))
    assert not firing(eng, MONDAY_9 + timedelta(seconds=30), "AgentOffline")


def test_first_firing_commune_of_a_staggered_portal_outage_is_already_a_symptom() -> None:
    """30 communes check every 60 s at staggered seconds; the portal fails at 9:00. When the first commune's
    PortalDown (for 20s) fires, the communes that have seen failures but are still pending count, so the
    incident exists and no commune alert is ever emitted as kind=alert."""
    eng = engine()
    subs = [subject(f"pc-{i:02d}", commune=f"{8000 + i:05d}") for i in range(30)]
    offsets = [2 * i for i in range(30)]  # commune i checks at second 2i of every minute
    for s, off in zip(subs, offsets, strict=True):
        eng.observe(s, [point("http", MONDAY_9 - timedelta(seconds=60 - off), {"result": "ok"}, **PORTAL)])
    kinds_seen: set[str] = set()
    for second in range(180):
        now = MONDAY_9 + timedelta(seconds=second)
        for s, off in zip(subs, offsets, strict=True):
            since_first = second - off
            # a failed check re-runs 10 s and 20 s later (retry_interval), then every 60 s
            if since_first in (0, 10, 20) or (since_first > 20 and (since_first - 20) % 60 == 0):
                eng.observe(s, [point("http", now, {"result": "connect_refused"}, **PORTAL)])
        for a in eng.evaluate(now):
            if a.labels["alertname"] == "PortalDown" and a.ends_at is None:
                kinds_seen.add(a.labels["kind"])
    assert kinds_seen == {"symptom"}
    incidents = [a for a in eng.active_alerts(MONDAY_9 + timedelta(seconds=180)) if a.labels["kind"] == "incident"]
    assert [a.labels["alertname"] for a in incidents] == ["PortalIncident"]
