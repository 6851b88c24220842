"""Converge the Linux roles on this machine (``-c local``) into temporary directories, twice, and use what they
produced: systemd units pass ``systemd-analyze verify``, the second run changes nothing, and the broker config
the mosquitto role wrote runs the real Mosquitto, through which an agent's points reach InfluxDB via the
collector configured by the commune_collector role.

systemd is not PID 1 here: the roles must notice it, enable the units offline and say that they did not start
services. Users are not created (``*_create_user: false``, running as root) to leave this machine's accounts alone.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from devstack import services as stack
from tests.support.pki import TestCA
from tests.support.services import Influx, need_binary, start_influx, start_mosquitto, wait_for

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.integration


@dataclass
class Converged:
    tmp: Path
    prefix: Path
    mosq_dir: Path
    mqtt_port: int
    influx_port: int
    ca: TestCA
    influx: Influx
    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str]


def playbook(tmp: Path, extra_vars: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "ANSIBLE_ROLES_PATH": str(ROOT / "ansible" / "roles"),
           "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(tmp / ".ansible-tmp"),
           "ANSIBLE_REMOTE_TEMP": str(tmp / ".ansible-tmp"), "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3"}
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(ROOT / "tests" / "ansible" / "converge.yml"),
         "-e", f"@{extra_vars}"], capture_output=True, text=True, timeout=600, env=env, cwd=tmp)


def recap(out: str) -> dict[str, int]:
    m = re.search(r"localhost\s*:\s*(.*)", out.split("PLAY RECAP", 1)[1])
    assert m, out
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}


@pytest.fixture(scope="module")
def converged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Converged]:
    for b in ("mosquitto", "amtool", "systemd-analyze", "influxd"):
        need_binary(b)
    tmp = tmp_path_factory.mktemp("converge")
    ctl = tmp / "controller"  # what the province keeps on its Ansible controller
    ctl.mkdir()
    wheels = tmp / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels),
                    str(ROOT)], check=True, capture_output=True, timeout=300)
    ca = TestCA(ctl / "pki")
    server = ca.issue("broker", dns=("localhost",), ips=("127.0.0.1",))
    mqtt_port = stack.free_port()
    (ctl / "fleet.yaml").write_text("agents: {}\n")
    enroll = subprocess.run([str(BIN / "commune-collector"), "enroll", "pc-linux-01", "--commune", "8542", "--site",
                             "tru-so-chinh", "--inventory", ctl / "fleet.yaml", "--passwd", ctl / "mosquitto.passwd",
                             "--out-dir", ctl / "enrolled", "--mqtt-host", "127.0.0.1", "--mqtt-port", str(mqtt_port),
                             "--ca-file", ca.ca_file], capture_output=True, text=True, timeout=60)
    assert enroll.returncode == 0, enroll.stderr
    (ctl / "collector.password").write_text("collector-secret\n")
    bf = subprocess.run([str(BIN / "commune-collector"), "broker-files", "--inventory", ctl / "fleet.yaml", "--passwd",
                         ctl / "mosquitto.passwd", "--acl", ctl / "unused.acl", "--collector-password-file",
                         ctl / "collector.password"], capture_output=True, text=True, timeout=60)
    assert bf.returncode == 0, bf.stderr
    (ctl / "alertmanager").mkdir()
    (ctl / "alertmanager" / "alertmanager.yml").write_text(yaml.safe_dump(
        {"route": {"receiver": "tinh"}, "receivers": [{"name": "tinh"}]}))
    influx = start_influx(tmp / "influx")
    prefix, mosq_dir = tmp / "root", tmp / "mosquitto"
    pip_args = f"--no-index --find-links {wheels} --no-deps"
    influx_port = stack.free_port()
    extra = {
        "influxdb_root_prefix": str(prefix), "influxdb_system_user": "root", "influxdb_system_group": "root",
        "influxdb_bind_address": f"127.0.0.1:{influx_port}", "influxdb_rpc_bind_address": f"127.0.0.1:{stack.free_port()}",
        "commune_agent_root_prefix": str(prefix), "commune_agent_create_user": False,
        "commune_agent_system_user": "root", "commune_agent_system_group": "root",
        "commune_agent_pip_extra_args": pip_args, "commune_agent_id": "pc-linux-01",
        "commune_agent_commune": "08542", "commune_agent_bundle_dir": str(ctl / "enrolled"),
        "commune_agent_mqtt_host": "127.0.0.1", "commune_agent_mqtt_port": mqtt_port,
        "mosquitto_config_dir": str(mosq_dir), "mosquitto_service_group": "root", "mosquitto_port": mqtt_port,
        "mosquitto_listen_address": "127.0.0.1", "mosquitto_fleet_inventory_src": str(ctl / "fleet.yaml"),
        "mosquitto_password_file_src": str(ctl / "mosquitto.passwd"), "mosquitto_tls_ca_src": str(ca.ca_file),
        "mosquitto_tls_cert_src": str(server.cert), "mosquitto_tls_key_src": str(server.key),
        "alertmanager_root_prefix": str(prefix), "alertmanager_config_src_dir": str(ctl / "alertmanager"),
        "commune_collector_root_prefix": str(prefix), "commune_collector_create_user": False,
        "commune_collector_system_user": "root", "commune_collector_system_group": "root",
        "commune_collector_pip_extra_args": pip_args, "commune_collector_fleet_inventory_src": str(ctl / "fleet.yaml"),
        "commune_collector_mqtt_host": "127.0.0.1", "commune_collector_mqtt_port": mqtt_port,
        "commune_collector_mqtt_ca_src": str(ca.ca_file), "commune_collector_mqtt_password": "collector-secret",
        "commune_collector_influx_url": influx.url, "commune_collector_influx_database": "converge_test",
        "commune_collector_metrics_listen": "",
    }
    extra_vars = tmp / "vars.json"
    extra_vars.write_text(json.dumps(extra))
    first = playbook(tmp, extra_vars)
    second = playbook(tmp, extra_vars) if first.returncode == 0 else first
    yield Converged(tmp, prefix, mosq_dir, mqtt_port, influx_port, ca, influx, first, second)
    influx.service.stop()


def test_roles_converge_say_services_were_not_started_and_change_nothing_the_second_time(converged: Converged) -> None:
    assert converged.first.returncode == 0, converged.first.stdout[-6000:] + converged.first.stderr[-3000:]
    first = recap(converged.first.stdout)
    assert first["failed"] == 0 and first["changed"] > 10
    assert "systemd is not running here" in converged.first.stdout
    assert converged.second.returncode == 0, converged.second.stdout[-6000:]
    assert recap(converged.second.stdout)["changed"] == 0, converged.second.stdout[-6000:]


def test_agent_files_config_and_hardened_unit(converged: Converged) -> None:
    p = converged.prefix
    etc = p / "etc" / "commune-monitor" / "agent"
    assert (p / "opt" / "commune-monitor" / "agent" / "venv" / "bin" / "commune-agent").exists()
    assert (etc / "agent.password").stat().st_mode & 0o777 == 0o640
    assert (etc / "ca.pem").read_bytes() == converged.ca.ca_file.read_bytes()
    cfg = yaml.safe_load((etc / "agent.yaml").read_text())
    assert cfg["agent"] == {"id": "pc-linux-01"}
    assert cfg["mqtt"] == {"host": "127.0.0.1", "port": converged.mqtt_port, "password_file": "agent.password",
                           "tls": {"ca_file": "ca.pem"}}
    # probes come from the enrolled bundle: the gateway and the province's portals
    assert cfg["probes"]["ping"]["gateway"] is True and cfg["probes"]["http"]["catalogue"] == "phutho"
    assert {"host": "dichvucong.gov.vn", "name": "dvc-quoc-gia", "role": "public"} in cfg["probes"]["ping"]["targets"]
    v = subprocess.run([str(BIN / "commune-agent"), "validate", "-c", etc / "agent.yaml"], capture_output=True, text=True,
                       timeout=60)
    assert v.returncode == 0, v.stdout + v.stderr
    unit = (p / "etc" / "systemd" / "system" / "commune-agent.service").read_text()
    assert "AmbientCapabilities=CAP_NET_RAW\n" in unit and "CapabilityBoundingSet=CAP_NET_RAW\n" in unit
    assert "NoNewPrivileges=true" in unit and "ProtectSystem=strict" in unit
    assert (p / "etc" / "systemd" / "system" / "multi-user.target.wants" / "commune-agent.service").is_symlink()


def test_collector_config_units_and_report_timer(converged: Converged) -> None:
    p = converged.prefix
    units = p / "etc" / "systemd" / "system"
    assert (units / "timers.target.wants" / "commune-report.timer").is_symlink()
    assert "OnCalendar=*-*-01 07:00:00 Asia/Ho_Chi_Minh" in (units / "commune-report.timer").read_text()
    # verified against this machine's systemd, with ExecStart pointing into the root prefix (it must exist)
    check = converged.tmp / "verify"
    check.mkdir(exist_ok=True)
    names = ("commune-agent.service", "commune-collector.service", "commune-report.service", "commune-report.timer")
    for unit in names:
        (check / unit).write_text((units / unit).read_text().replace("/opt/commune-monitor", f"{p}/opt/commune-monitor"))
    for unit in names:
        r = subprocess.run(["systemd-analyze", "verify", str(check / unit)], capture_output=True, text=True, timeout=60,
                           cwd=check)
        assert r.returncode == 0, unit + ": " + r.stdout + r.stderr
    cdir = p / "etc" / "commune-monitor" / "collector"
    assert yaml.safe_load((cdir / "fleet.yaml").read_text())["agents"]["pc-linux-01"]["commune"] == "08542"
    assert (cdir / "mqtt.password").read_text() == "collector-secret\n"
    assert (p / "etc" / "prometheus" / "alertmanager.yml").exists()
    assert "--web.listen-address=127.0.0.1:9093" in (p / "etc" / "default" / "prometheus-alertmanager").read_text()


def test_the_role_made_acl_matches_the_collectors_generator(converged: Converged) -> None:
    from collector.broker import acl_text
    from collector.config import load_inventory

    role_acl = (converged.mosq_dir / "commune-monitor" / "acl").read_text()
    ours = acl_text(load_inventory(converged.tmp / "controller" / "fleet.yaml"))
    assert role_acl.strip() == ours.strip()


def test_role_configs_run_mosquitto_and_collector_and_an_agents_points_reach_influxdb(converged: Converged) -> None:
    assert converged.first.returncode == 0
    p, tmp = converged.prefix, converged.tmp
    conf = (converged.mosq_dir / "conf.d" / "commune-monitor.conf").read_text()
    assert f"listener {converged.mqtt_port} 127.0.0.1" in conf and "certfile" in conf and "allow_anonymous false" in conf
    broker, _ = start_mosquitto(tmp / "run-mosq", extra_conf=conf + "user root\n", anonymous=False,
                                port=converged.mqtt_port, plain_listener=False)
    cdir = "/etc/commune-monitor/collector"
    ccfg = p / cdir.lstrip("/") / "collector.yaml"
    # the collector's absolute paths point inside the root prefix the role installed into
    run_cfg = ccfg.with_name("collector-run.yaml")
    run_cfg.write_text(ccfg.read_text().replace(cdir, str(ccfg.parent)))
    # ready once subscribed: a batch published before the collector's first subscription would wait for the
    # agent's resend timeout (60 s); the collector's start-up (retention policies, continuous queries) takes a while
    collector = stack.python_service("collector", tmp / "run-c", ["collector.cli", "run", "-c", str(run_cfg),
                                                                  "--state-dir", str(tmp / "run-c")],
                                     stack.log_says(tmp / "run-c", "collector", "connected to mqtt"))
    collector.fresh_log = True
    collector.ready_timeout = 180.0  # start-up creates the rollup policies and queries first
    agent_dir = p / "etc" / "commune-monitor" / "agent"
    doc = yaml.safe_load((agent_dir / "agent.yaml").read_text())
    doc["probes"] = {"synthetic": {"interval": "100ms", "rounds": 5, "points_per_round": 3}}
    doc["queue"] = {"flush_interval": "50ms"}
    acfg = agent_dir / "agent-test.yaml"  # beside the role's password and CA: relative paths
    acfg.write_text(yaml.safe_dump(doc))
    agent = stack.python_service("agent", tmp / "run-a", ["agent.cli", "run", "-c", str(acfg), "--state-dir",
                                                          str(tmp / "run-a")], lambda: True)

    def points() -> list[dict[str, object]] | None:
        try:
            return converged.influx.rows("SELECT * FROM synthetic WHERE agent = 'pc-linux-01'", "converge_test") or None
        except AssertionError:  # the collector has not created the database yet
            return None

    collector.start()
    agent.start()
    try:
        rows = wait_for(points, 60, what="agent points")
        assert rows[0]["commune"] == "08542" and rows[0]["site"] == "tru-so-chinh"
    finally:
        agent.stop()
        collector.stop()
        broker.stop()


def test_influxdb_role_config_runs_the_real_influxd(converged: Converged) -> None:
    assert converged.first.returncode == 0
    p = converged.prefix
    conf = p / "etc" / "influxdb" / "influxdb.conf"
    text = conf.read_text()
    assert f'bind-address = "127.0.0.1:{converged.influx_port}"' in text and "reporting-disabled = true" in text
    for d in ("meta", "data", "wal"):
        assert (p / "var" / "lib" / "influxdb" / d).is_dir()
        assert f'"{p}/var/lib/influxdb/{d}"' in text
    # the ports given to the role were free minutes ago; outgoing connections may have taken them since: run the
    # role's config as written, with only its two addresses moved to ports free now
    port = stack.free_port()
    run_conf = converged.tmp / "influxdb-run.conf"
    run_conf.write_text(re.sub(r'bind-address = "127\.0\.0\.1:\d+"\n\[meta\]', f'bind-address = "127.0.0.1:{stack.free_port()}"\n[meta]',
                               text).replace(f"127.0.0.1:{converged.influx_port}", f"127.0.0.1:{port}"))
    url = f"http://127.0.0.1:{port}"
    influxd = stack.Service("influxd", [stack.find_binary("influxd"), "-config", str(run_conf)],
                            converged.tmp / "run-influxd", stack.http_ready(f"{url}/ping", 204))
    influxd.start()
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=10) as r:
            assert r.status == 204 and r.headers["X-Influxdb-Version"].startswith("1.")
        body = urllib.parse.urlencode({"q": 'CREATE DATABASE "role_check"'}).encode()
        with urllib.request.urlopen(f"{url}/query", data=body, timeout=10) as r:
            assert r.status == 200
    finally:
        influxd.stop()
    assert (p / "var" / "lib" / "influxdb" / "meta" / "meta.db").exists()  # it stored its meta data where told
    assert "InfluxDB is configured but not started" in converged.first.stdout


def test_the_report_timer_calls_the_real_report_command_for_last_month(converged: Converged) -> None:
    from collector.cli import _parser

    service = (converged.prefix / "etc" / "systemd" / "system" / "commune-report.service").read_text()
    exec_start = next(ln.removeprefix("ExecStart=") for ln in service.splitlines() if ln.startswith("ExecStart="))
    argv = shlex.split(exec_start)
    assert argv[0] == "/opt/commune-monitor/collector/venv/bin/commune-collector"
    args = _parser().parse_args(argv[1:])  # argparse exits on an unknown flag
    assert args.command == "report" and args.previous_month and args.month is None
    assert args.config == Path("/etc/commune-monitor/collector/collector.yaml")
    assert str(args.out).startswith("/var/lib/commune-collector/")  # the unit's StateDirectory: writable
    assert "StateDirectory=commune-collector" in service
