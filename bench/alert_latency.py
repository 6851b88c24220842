"""Alert latency: time from a fault to the notification mail at a local SMTP server, with the DEFAULT rules
(their ``for``/``absent`` windows), the collector's default evaluate interval, the agent's default MQTT
keepalive and http retry interval, and the generated Alertmanager config's default group_wait (10 s on the
commune routes). Real processes: Mosquitto, InfluxDB, collector, agents, Alertmanager; aiosmtpd in this
process. The three faults run at once, each in its own commune:

- agent killed: a site gateway's agent gets SIGKILL; the broker publishes its last will (status offline)
  at once (rule agent-offline-gateway-status: for 10s, any hour);
- portal down: a local HTTP portal starts answering 503 (rule PortalDown: for 20s; the http probe checks
  every 30 s here and re-checks a failure 10 s and 20 s later);
- link cut: iptables DROP on the MQTT listener one gateway agent uses (as root; skipped otherwise) — the
  broker publishes its last will when 1.5 x its keepalive (15 s) passes in silence (same status rule).

    python -m bench.alert_latency [--timeout 900]
"""

from __future__ import annotations

import argparse
import email
import email.policy
import http.server
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiosmtpd.controller import Controller

from bench.common import start_ministack
from bench.results import Row, record
from collector.alerts import amconfig
from collector.alerts.contacts import load_contacts
from collector.alerts.rules import load_rules
from collector.config import parse_inventory
from devstack import services as stack

KILLED, PORTAL, LINK = "07894", "07900", "07909"  # one commune per fault


@dataclass
class Inbox:
    arrivals: list[tuple[float, list[str], str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.arrivals.append((time.time(), list(envelope.rcpt_tos), str(msg["Subject"])))
        return "250 OK"

    def first(self, address: str) -> tuple[float, str] | None:
        for t, to, subject in self.arrivals:
            if address in to and subject.startswith("[CẢNH BÁO]"):
                return t, subject
        return None


class Portal(http.server.BaseHTTPRequestHandler):
    failing = False

    def do_GET(self) -> None:
        code = 503 if Portal.failing else 200
        body = "Cổng dịch vụ công".encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _agent(root: Path, agent_id: str, port: int, probes: dict[str, Any]) -> stack.Service:
    d = root / agent_id
    d.mkdir(parents=True, exist_ok=True)
    cfg = {"agent": {"id": agent_id}, "mqtt": {"port": port, "reconnect_min": "1s", "reconnect_max": "5s"},
           "self_metrics_interval": "30s", "probes": probes}
    (d / "agent.yaml").write_text(yaml.safe_dump(cfg))
    return stack.python_service(f"agent-{agent_id}", d, ["agent.cli", "run", "-c", str(d / "agent.yaml"),
                                                         "--state-dir", str(d)], lambda: True)


def _iptables(action: str, port: int) -> bool:
    iptables = shutil.which("iptables")
    if os.geteuid() != 0 or iptables is None:
        return False
    ok = True
    for chain, flag in (("INPUT", "--dport"), ("OUTPUT", "--sport")):
        rc = subprocess.run([iptables, action, chain, "-i" if chain == "INPUT" else "-o", "lo", "-p", "tcp", flag,
                             str(port), "-j", "DROP"], capture_output=True, timeout=10).returncode
        ok = ok and rc == 0
    return ok


def _mail(code: str) -> str:
    return f"cntt-{code}@bench.vn"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--timeout", type=float, default=900.0, help="give up on a fault after this many seconds")
    args = p.parse_args(argv)
    rules = load_rules()
    windows = {r.id: (r.spec.absent or r.spec.for_) for r in rules.rules}
    keepalive = 15.0  # the agent's default mqtt.keepalive: the broker drops a silent client after 1.5 x
    root = Path(tempfile.mkdtemp(prefix="alert-latency-"))
    inbox = Inbox()
    smtp_port = stack.free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port, auth_require_tls=False)
    smtp.start()
    portal = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Portal)
    threading.Thread(target=portal.serve_forever, daemon=True).start()
    inventory = {"gw-killed": {"commune": KILLED, "site": "tru-so-chinh", "role": "gateway"},
                 "pc-portal": {"commune": PORTAL, "site": "tru-so-chinh"},
                 "gw-link": {"commune": LINK, "site": "diem-2", "role": "gateway"}}
    am_dir = root / "alertmanager"
    am_dir.mkdir(parents=True)
    (am_dir / "contacts.yaml").write_text(yaml.safe_dump({
        "province": {"email": ["tinh@bench.vn"]},
        "communes": {c: {"email": [_mail(c)]} for c in (KILLED, PORTAL, LINK)},
        "smtp": {"smarthost": f"127.0.0.1:{smtp_port}", "from": "giamsat@bench.vn", "require_tls": False},
    }))
    inv = parse_inventory({"agents": inventory}, "bench fleet")
    contacts = load_contacts(am_dir / "contacts.yaml")
    amconfig.write(am_dir / "generated", inv, contacts)
    am_port = stack.free_port()
    am = stack.alertmanager(am_dir / "am", am_port, (am_dir / "generated" / "alertmanager.yml").read_text())
    am.start()
    link_port = stack.free_port()
    ms = start_ministack(root, inventory, collector_extra={
        "alerts": {"enabled": True, "alertmanager_urls": [f"http://127.0.0.1:{am_port}"]}})
    services: list[stack.Service] = [am]
    try:
        # a second listener on the same broker, for the agent whose link gets cut
        conf = root / "mosquitto" / "mosquitto.conf"
        conf.write_text(conf.read_text() + f"listener {link_port} 127.0.0.1\n")
        ms.services[0].stop()
        ms.services[0].start()
        url = f"http://127.0.0.1:{portal.server_address[1]}/"
        agents = {
            "gw-killed": _agent(root, "gw-killed", ms.mqtt_port, {"host": {"interval": "10s"}}),
            "pc-portal": _agent(root, "pc-portal", ms.mqtt_port, {"http": {"interval": "30s", "targets": [
                {"name": "dichvucong", "url": url}]}}),
            "gw-link": _agent(root, "gw-link", link_port, {"host": {"interval": "10s"}}),
        }
        for a in agents.values():
            a.start()
            services.append(a)
        print(f"warming up 60 s (work dir {root}) ...", flush=True)
        time.sleep(60)  # a benchmark, not a test: let every agent report for a while
        t0 = time.time()
        agents["gw-killed"].kill()
        Portal.failing = True
        cut = _iptables("-A", link_port)
        faults = {"agent killed": (t0, KILLED, "agent-offline-gateway-status"),
                  "portal down": (t0, PORTAL, "PortalDown")}
        if cut:
            faults["link cut"] = (t0, LINK, "agent-offline-gateway-status")
        else:
            print("link cut: skipped (needs root and iptables)")
        deadline = t0 + args.timeout
        while time.time() < deadline and not all(inbox.first(_mail(c)) for _, c, _ in faults.values()):
            time.sleep(1)
        print(f"\n{'fault':14} {'rule window':>12} {'to mail':>9} {'overhead':>9}  subject")
        rows: list[Row] = []
        for name, (start, code, rule) in faults.items():
            got = inbox.first(_mail(code))
            window = windows.get(rule, 0.0)
            if got is None:
                print(f"{name:14} {window:>11.0f}s {'none':>9} {'-':>9}  (no mail within {args.timeout:.0f} s)")
                rows.append(Row(f"{name}: fault -> mail ({rule})", float("nan"), "s", note="no mail"))
                continue
            latency = got[0] - start
            print(f"{name:14} {window:>11.0f}s {latency:>8.1f}s {latency - window:>8.1f}s  {got[1]}")
            rows.append(Row(f"{name}: fault -> mail at the SMTP server ({rule})", latency, "s", "rule window",
                            window, note=f"overhead {latency - window:.1f} s"))
        record("alerts", rows, {"timeout_s": args.timeout})
        print("\noverhead = latency - the rule's for window: evaluation (every 5 s), posting, Alertmanager's\n"
              "group_wait (10 s on commune routes), SMTP; for the link cut also the broker's keepalive timeout\n"
              f"(1.5 x {keepalive:.0f} s); for the portal also the wait for the probe's next check (0-30 s here).")
    finally:
        _iptables("-D", link_port)
        for s in reversed(services):
            s.stop()
        ms.stop()
        smtp.stop()
        portal.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
