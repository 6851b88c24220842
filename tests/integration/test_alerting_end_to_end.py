"""Alerting end to end with real parts: agent processes -> Mosquitto -> the collector process (alerts on,
test rules where every hour is an office hour) -> InfluxDB and a real Alertmanager with the generated
config -> aiosmtpd."""

from __future__ import annotations

import math
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from devstack import services as stack
from tests.support.alert_stack import (
    OFFLINE_TEXT,
    UNREACHABLE_TEXT,
    Publisher,
    alertmanager_for,
    am_alerts,
    fleet_with_alerts,
    mails,
    rules_file,
)
from tests.support.alertmanager import AM
from tests.support.alerts_env import PROVINCE_MAIL, commune_mail
from tests.support.fleet import Fleet
from tests.support.services import Influx, wait_for
from tests.support.smtp import Mail, SmtpSink

pytestmark = pytest.mark.integration

VIETTRI, OTHER = "07900", "05089"
PC, PC_OTHER = "pc-viettri-01", "pc-other-01"


class Env:
    def __init__(self, root: Path, port: int, influx: tuple[Influx, str], sink: SmtpSink, *,
                 escalate_after: str = "1h", repeat_interval: str = "1h", group_interval: str = "2s",
                 agents: bool = True, absent: str = "5s", ack_links: bool = False) -> None:
        self.fleet = Fleet(root / "fleet", port, influx[0], influx[1])
        self.sink = sink
        self.metrics_port = stack.free_port()
        self.rules = rules_file(root / "rules.yaml", absent=absent, escalate_after=escalate_after)
        inventory = {PC: {"commune": VIETTRI, "site": "tru-so-chinh"}, PC_OTHER: {"commune": OTHER, "site": "main"}}
        self.am: AM = alertmanager_for(root / "alertmanager", inventory, sink.port, group_interval=group_interval,
                                       repeat_interval=repeat_interval)
        self.am.service.start()
        if agents:
            self.fleet.add_agent(PC, VIETTRI, "tru-so-chinh", rounds=0, points_per_round=2, interval="300ms")
            self.fleet.add_agent(PC_OTHER, OTHER, "main", rounds=0, points_per_round=2, interval="300ms")
            for svc in self.fleet.agents.values():
                svc.start()
        else:
            self.fleet.inventory.update(inventory)
        fleet_with_alerts(self.fleet, self.rules, self.am, self.metrics_port)
        if ack_links:
            (root / "ack-secret").write_text("a-secret-of-at-least-16-bytes\n")
            self.fleet.collector_extra["alerts"].update(ack_secret_file=str(root / "ack-secret"),
                                                        public_url=f"http://127.0.0.1:{self.metrics_port}")
        self.start_collector()

    def start_collector(self) -> None:
        self.fleet.start_collector()
        wait_for(lambda: "commune_collector_alerts_evaluations" in self.metrics(), 30, what="the collector's alerts")

    def metrics(self) -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2) as resp:
                return str(resp.read().decode())
        except OSError:
            return ""

    def metric(self, name: str) -> float | None:
        for line in self.metrics().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def posts(self) -> float:
        """Posts to the Alertmanager so far (from the collector's /metrics)."""
        return self.metric(f'commune_collector_alerts_posts_total{{alertmanager="{self.am.url}"}}') or 0.0

    def seen(self, agent: str) -> bool:
        return f'agent_last_seen_seconds{{agent="{agent}"}}' in self.metrics()

    def alert(self, agent: str) -> dict[str, object] | None:
        found = am_alerts(self.am, "alertname=AgentOffline", f"agent={agent}")
        return found[0] if found else None

    def stop(self) -> None:
        self.fleet.stop()
        self.am.service.stop()


@pytest.fixture
def env(tmp_path: Path, mosquitto: int, influx: tuple[Influx, str], sink: SmtpSink) -> Iterator[Env]:
    e = Env(tmp_path, mosquitto, influx, sink)
    yield e
    e.stop()


def _firing(env: Env, agent: str, address: str) -> list[Mail]:
    return [m for m in mails(env.sink, address, OFFLINE_TEXT, resolved=False) if agent in m.body]


def test_agent_killed_mails_its_commune_in_vietnamese_then_resolved(env: Env) -> None:
    wait_for(lambda: env.seen(PC) and env.seen(PC_OTHER), 30, what="both agents reporting")
    env.fleet.agents[PC].kill()
    mail = wait_for(lambda: _firing(env, PC, commune_mail(VIETTRI)), 60, what="the AgentOffline mail")[0]
    assert "Phường Việt Trì" in mail.subject + mail.body
    assert "tru-so-chinh" in mail.body
    assert "không gửi dữ liệu" in mail.body
    env.fleet.agents[PC].start()
    resolved = wait_for(lambda: [m for m in mails(env.sink, commune_mail(VIETTRI), OFFLINE_TEXT, resolved=True)],
                        60, what="the resolved mail")
    assert "Sự cố đã được khắc phục" in resolved[0].body
    assert not mails(env.sink, commune_mail(OTHER), OFFLINE_TEXT)  # the other commune heard nothing
    assert not mails(env.sink, PROVINCE_MAIL, OFFLINE_TEXT)  # a warning, not escalated: not the province
    assert len(_firing(env, PC, commune_mail(VIETTRI))) == 1


def test_collector_restart_keeps_firing_and_pending_alerts(env: Env) -> None:
    wait_for(lambda: env.seen(PC) and env.seen(PC_OTHER), 30, what="both agents reporting")
    env.fleet.agents[PC].kill()
    wait_for(lambda: _firing(env, PC, commune_mail(VIETTRI)), 60, what="the first AgentOffline mail")
    first = env.alert(PC)
    assert first is not None
    env.fleet.agents[PC_OTHER].kill()  # its alert is pending (absent 5 s) when the collector goes down
    assert env.fleet.collector is not None
    env.fleet.collector.stop()
    restarted = time.time()
    env.start_collector()
    other = wait_for(lambda: env.alert(PC_OTHER), 60, what="the pending alert firing after the restart")
    # its absence was counted from the agent's last point before the restart, not from the restart
    assert datetime.fromisoformat(str(other["startsAt"]).replace("Z", "+00:00")).timestamp() < restarted + 5
    wait_for(lambda: _firing(env, PC_OTHER, commune_mail(OTHER)), 60, what="the second commune's mail")
    wait_for(lambda: (a := env.alert(PC)) is not None and a["updatedAt"] != first["updatedAt"], 30,
             what="the restarted collector re-posting the firing alert")
    again = env.alert(PC)
    assert again is not None and again["startsAt"] == first["startsAt"]
    assert len(_firing(env, PC, commune_mail(VIETTRI))) == 1
    assert not mails(env.sink, commune_mail(VIETTRI), OFFLINE_TEXT, resolved=True)


def test_alertmanager_restart_keeps_firing_alerts_without_false_resolve(env: Env) -> None:
    wait_for(lambda: env.seen(PC), 30, what="the agent reporting")
    env.fleet.agents[PC].kill()
    wait_for(lambda: _firing(env, PC, commune_mail(VIETTRI)), 60, what="the AgentOffline mail")
    first = env.alert(PC)
    assert first is not None
    env.am.service.stop()
    env.am.service.start()  # same storage directory
    back = wait_for(lambda: env.alert(PC), 10, what="the alert back in Alertmanager (repost every 2 s)")
    assert back["startsAt"] == first["startsAt"]
    posts = env.posts()
    wait_for(lambda: env.posts()
             >= posts + 3, 30, what="three more reposts")
    assert not mails(env.sink, commune_mail(VIETTRI), OFFLINE_TEXT, resolved=True)
    assert env.alert(PC) is not None


def test_unacknowledged_alert_escalates_to_the_province_until_acked(tmp_path: Path, mosquitto: int,
                                                                    influx: tuple[Influx, str],
                                                                    sink: SmtpSink) -> None:
    env = Env(tmp_path, mosquitto, influx, sink, escalate_after="4s", repeat_interval="3s")
    try:
        wait_for(lambda: env.seen(PC), 30, what="the agent reporting")
        env.fleet.agents[PC].kill()
        wait_for(lambda: _firing(env, PC, commune_mail(VIETTRI)), 60, what="the commune's mail")
        wait_for(lambda: len(_firing(env, PC, PROVINCE_MAIL)) >= 2, 60, what="the escalation repeating at the province")
        assert env.fleet.collector is not None
        out = subprocess.run(
            [sys.executable, "-m", "collector.cli", "ack", "-c", str(env.fleet.collector.workdir / "collector.yaml"),
             "alertname=AgentOffline", f"agent={PC}", f"commune={VIETTRI}", "--duration", "1h", "--by", "test"],
            capture_output=True, text=True, timeout=60, check=True)
        assert "acknowledged" in out.stdout
        wait_for(lambda: env.metric("commune_collector_alerts_acknowledged") == 1, 30, what="the collector seeing the ack")
        wait_for(lambda: all((a.get("status") or {}).get("state") == "suppressed"  # type: ignore[union-attr]
                             for a in am_alerts(env.am, "alertname=AgentOffline")), 30, what="silenced in Alertmanager")
        silenced_at = len(_firing(env, PC, PROVINCE_MAIL))
        posts = env.posts()
        # several repeat intervals (3 s) pass: reposts every 2 s
        wait_for(lambda: env.posts()
                 >= posts + 5, 60, what="five more reposts")
        assert len(_firing(env, PC, PROVINCE_MAIL)) == silenced_at
    finally:
        env.stop()


def test_flapping_target_sends_a_bounded_number_of_notifications(tmp_path: Path, mosquitto: int,
                                                                 influx: tuple[Influx, str], sink: SmtpSink) -> None:
    env = Env(tmp_path, mosquitto, influx, sink, group_interval="10s", agents=False, absent="1h")
    pub = Publisher(mosquitto, PC)
    try:
        start = time.monotonic()
        cycles = 8
        for _ in range(cycles):  # 1.5 s failing, 1.5 s fine: each cycle fires and clears (for/clear_for 1 s)
            for result in ("timeout", "ok"):
                for _ in range(5):
                    pub.ping("dichvucong", result)
                    time.sleep(0.3)  # the pace of the fault itself, not a synchronisation
        elapsed = time.monotonic() - start
        wait_for(lambda: mails(env.sink, commune_mail(VIETTRI), UNREACHABLE_TEXT), 30, what="a notification")
        wait_for(lambda: not am_alerts(env.am, "alertname=TargetUnreachable"), 30, what="the target cleared")
        wait_for(lambda: mails(env.sink, commune_mail(VIETTRI), UNREACHABLE_TEXT, resolved=True), 30,
                 what="the resolved notification")
        got = len(mails(env.sink, commune_mail(VIETTRI), UNREACHABLE_TEXT))
        # at most one notification per group_interval (10 s) while it flapped, plus the final resolve,
        # against 2 x 8 state changes
        assert 1 <= got <= math.ceil(elapsed / 10) + 2 < 2 * cycles
    finally:
        pub.close()
        env.stop()


def test_signed_link_in_the_mail_acknowledges_the_alert(tmp_path: Path, mosquitto: int, influx: tuple[Influx, str],
                                                        sink: SmtpSink) -> None:
    env = Env(tmp_path, mosquitto, influx, sink, ack_links=True)
    try:
        wait_for(lambda: env.seen(PC), 30, what="the agent reporting")
        env.fleet.agents[PC].kill()
        mail = wait_for(lambda: _firing(env, PC, commune_mail(VIETTRI)), 60, what="the AgentOffline mail")[0]
        link = next(w for w in mail.body.split() if w.startswith(f"http://127.0.0.1:{env.metrics_port}/ack?token="))
        with urllib.request.urlopen(link, timeout=10) as resp:
            page = resp.read().decode()
        assert resp.status == 200 and "Đã xác nhận cảnh báo" in page
        wait_for(lambda: env.metric("commune_collector_alerts_acknowledged") == 1, 30, what="the ack seen")
        forged = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(forged, timeout=10)
        assert err.value.code == 403
    finally:
        env.stop()
