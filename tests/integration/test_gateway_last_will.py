"""A site gateway whose connection drops (no DISCONNECT: a killed process, a cut link) -> Mosquitto publishes
its last will (status offline, retained) -> the collector process feeds it to the SHIPPED rule
agent-offline-gateway-status -> Alertmanager with the generated config -> one Vietnamese mail to the
commune, without waiting for the 5-minute absence backup."""

from __future__ import annotations

import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest
import yaml

from agent import wire
from collector.alerts.rules import DEFAULT_RULES
from devstack import services as stack
from tests.support.alert_stack import alertmanager_for, am_alerts, fleet_with_alerts, mails
from tests.support.alerts_env import PROVINCE_MAIL, commune_mail
from tests.support.fleet import Fleet
from tests.support.services import Influx, wait_for
from tests.support.smtp import SmtpSink

pytestmark = pytest.mark.integration

GW, COMMUNE, SITE = "gw-viettri", "07900", "tru-so-chinh"
LOST = "Mất liên lạc với điểm"  # the shipped rule's summary


def _shipped_status_rule(path: Path) -> Path:
    data = yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))
    data["rules"] = [r for r in data["rules"] if r.get("id") == "agent-offline-gateway-status"]
    assert len(data["rules"]) == 1
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _status(state: str) -> bytes:
    return wire.encode(wire.Status(v=wire.SCHEMA_VERSION, state=state, time=time.time_ns()))  # type: ignore[arg-type]


def test_dropped_gateway_connection_mails_its_commune_from_the_last_will(
        tmp_path: Path, mosquitto: int, influx: tuple[Influx, str], sink: SmtpSink) -> None:
    inventory = {GW: {"commune": COMMUNE, "site": SITE, "role": "gateway"}}
    fleet = Fleet(tmp_path / "fleet", mosquitto, influx[0], influx[1])
    fleet.inventory.update(inventory)
    am = alertmanager_for(tmp_path / "alertmanager", inventory, sink.port)
    am.service.start()
    fleet_with_alerts(fleet, _shipped_status_rule(tmp_path / "rules.yaml"), am, stack.free_port())
    topic = wire.topic(GW, "status")
    gw = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=GW, protocol=paho.MQTTv5)
    gw.will_set(topic, _status("offline"), qos=1, retain=True)
    try:
        fleet.start_collector()
        gw.connect("127.0.0.1", mosquitto, keepalive=15)
        gw.loop_start()
        gw.publish(topic, _status("online"), qos=1, retain=True).wait_for_publish(5)
        wait_for(lambda: influx[0].rows('SELECT * FROM "agent_status"', influx[1]), 30, what="the online status")
        assert not am_alerts(am, "alertname=AgentOffline")
        gw.loop_stop()
        sock = gw.socket()
        assert sock is not None
        sock.close()  # no DISCONNECT: the broker publishes the last will
        mail = wait_for(lambda: mails(sink, commune_mail(COMMUNE), LOST, resolved=False), 60,
                        what="the AgentOffline mail")[0]
        assert "Phường Việt Trì" in mail.subject and SITE in mail.subject
        alerts = am_alerts(am, "alertname=AgentOffline")
        assert len(alerts) == 1 and alerts[0]["labels"]["severity"] == "critical"
        # critical: the province is told too (its own route), once
        wait_for(lambda: mails(sink, PROVINCE_MAIL, LOST, resolved=False), 60, what="the province's copy")
        assert len(mails(sink, commune_mail(COMMUNE), LOST, resolved=False)) == 1
    finally:
        fleet.stop()
        am.service.stop()
