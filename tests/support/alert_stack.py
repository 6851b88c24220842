"""The whole alerting path for end-to-end tests: agent processes (or a test publisher of real wire batches)
-> Mosquitto -> the collector PROCESS with alerts enabled -> a real Alertmanager with the generated config
-> aiosmtpd. Rules and calendar are a test rules file with short durations, every hour an office hour."""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import yaml

from agent import wire
from collector.alerts import amconfig
from collector.alerts.contacts import load_contacts
from collector.config import parse_inventory
from tests.support.alertmanager import AM, make_alertmanager
from tests.support.alerts_env import PROVINCE_MAIL, commune_mail
from tests.support.fleet import Fleet
from tests.support.smtp import Mail, SmtpSink

ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def rules_file(path: Path, *, absent: str = "3s", escalate_after: str = "1h", flap_for: str = "1s",
               flap_clear_for: str = "1s") -> Path:
    """AgentOffline (office PCs, office hours only — and every hour is one here) on the synthetic probe's
    points, and a per-target ping rule, with the default rules' texts."""
    data = {
        "outside_office_hours": "resolve",
        "resolved_retention": "1m",
        "calendar": {"timezone": "Asia/Ho_Chi_Minh", "office_start": "00:00", "office_end": "23:59:59.999999",
                     "weekdays": ALL_DAYS, "holidays": []},
        "rules": [
            {"name": "AgentOffline", "id": "agent-offline-pc", "measurement": "synthetic", "absent": absent,
             "applies_to": ["pc"], "office_hours_only": True, "scope": "agent", "severity": "warning",
             "escalate_after": escalate_after,
             "summary": "Máy {agent} tại {commune_name} không gửi dữ liệu",
             "description": "Từ {since}, máy {agent} (điểm {site}, {commune_name}) không gửi dữ liệu giám sát "
                            "trong giờ làm việc. Kiểm tra máy có bật không, cáp mạng có cắm không."},
            {"name": "TargetUnreachable", "measurement": "ping", "field": "result", "when": "!= ok",
             "clear_when": "== ok", "for": flap_for, "clear_for": flap_clear_for, "target": ["name"],
             "scope": "site", "severity": "warning",
             "summary": "Không tới được {target} từ điểm {site} ({commune_name})",
             "description": "Từ {since}, máy tại điểm {site} ({commune_name}) không ping được {target}. "
                            "Kiểm tra modem/router và cáp mạng."},
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def alertmanager_for(root: Path, inventory: dict[str, dict[str, str]], smtp_port: int, *,
                     group_interval: str = "2s", repeat_interval: str = "1h") -> AM:
    """A (not started) Alertmanager with the config generated from this inventory and a contacts file
    that sends each commune's mail to ``commune_mail(code)`` and the province's to PROVINCE_MAIL."""
    root.mkdir(parents=True, exist_ok=True)
    codes = sorted({e["commune"] for e in inventory.values()})
    contacts = {
        "province": {"email": [PROVINCE_MAIL]},
        "communes": {c: {"email": [commune_mail(c)]} for c in codes},
        "smtp": {"smarthost": f"127.0.0.1:{smtp_port}", "from": "giamsat@test.vn", "require_tls": False},
        "timing": {"group_wait": "1s", "commune_group_wait": "1s", "group_interval": group_interval, "repeat_interval": repeat_interval,
                   "province_repeat_interval": repeat_interval},
    }
    (root / "contacts.yaml").write_text(yaml.safe_dump(contacts, allow_unicode=True), encoding="utf-8")
    inv = parse_inventory({"agents": inventory}, str(root / "fleet.yaml"))
    amconfig.write(root / "generated", inv, load_contacts(root / "contacts.yaml"))
    return make_alertmanager(root / "am", (root / "generated" / "alertmanager.yml").read_text(encoding="utf-8"))


def alerts_section(rules: Path, am_url: str, **extra: Any) -> dict[str, Any]:
    return {"enabled": True, "rules": str(rules), "alertmanager_urls": [am_url], "evaluate_interval": 0.5,
            "repost_interval": 2.0, "silences_interval": 0.5, "save_interval": 1.0, **extra}


OFFLINE_TEXT = "không gửi dữ liệu"  # in the AgentOffline summary
UNREACHABLE_TEXT = "Không tới được"  # in the TargetUnreachable summary


def mails(sink: SmtpSink, address: str, text: str, *, resolved: bool | None = None) -> list[Mail]:
    """Mails to ``address`` whose subject or body has ``text``; only resolved (or only firing) ones."""
    out = [m for m in sink.to(address) if text in m.body or text in m.subject]
    if resolved is not None:
        out = [m for m in out if ("ĐÃ KHẮC PHỤC" in m.subject) == resolved]
    return out


def am_alerts(am: AM, *filters: str) -> list[dict[str, Any]]:
    query = "&".join(f"filter={urllib.request.quote(f)}" for f in filters)
    with urllib.request.urlopen(f"{am.url}/api/v2/alerts?{query}", timeout=3) as resp:
        return list(json.load(resp))


@dataclass
class Publisher:
    """Publishes real wire batches as one agent (like the agent's queue does), for points an agent
    cannot be made to produce on demand (a ping result that toggles)."""

    port: int
    agent: str
    seq: int = 0
    client: paho.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"pub-{self.agent}",
                                  protocol=paho.MQTTv5)
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()

    def ping(self, target: str, result: str) -> None:
        self.seq += 1
        now = time.time_ns()
        point = wire.Point(m="ping", t=now, f={"result": result, "loss_percent": 0.0 if result == "ok" else 100.0},
                           tg={"name": target, "role": "external"})
        batch = wire.Batch(v=wire.SCHEMA_VERSION, agent=self.agent, seq=self.seq, sent=now, points=[point])
        self.client.publish(wire.topic(self.agent, "metrics"), wire.encode(batch), qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def fleet_with_alerts(fleet: Fleet, rules: Path, am: AM, metrics_port: int) -> None:
    fleet.collector_extra = {"alerts": alerts_section(rules, am.url), "metrics_listen": f"127.0.0.1:{metrics_port}"}
