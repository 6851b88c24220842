"""Local dev services (not part of the product): Mosquitto, InfluxDB 1.x, Alertmanager, the collector and an agent on this machine.

Every server binds to 127.0.0.1; data, configs, logs and pid files live under one state folder.
Starting is idempotent (a service whose pid file names a live process is left alone); ``stop`` ends
only the processes whose pid files we wrote. The same ``Service`` class starts the real servers for
the integration tests, in temporary folders on free ports.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from devstack.errors import StackError
from devstack.ports import holder, owned_by

DEFAULT_PORTS = {"mqtt": 18830, "influx": 18086, "influx_rpc": 18088, "alertmanager": 19093, "collector_metrics": 19851,
                 "smtp": 19825}
PACKAGES = {"mosquitto": "mosquitto", "influxd": "influxdb", "prometheus-alertmanager": "prometheus-alertmanager"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tcp_ready(port: int, host: str = "127.0.0.1") -> Callable[[], bool]:
    def check() -> bool:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            return False

    return check


def http_ready(url: str, status: int = 200) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                return int(r.status) == status
        except OSError:
            return False

    return check


def find_binary(name: str) -> str:
    path = shutil.which(name) or next((p for p in (f"/usr/bin/{name}", f"/usr/sbin/{name}") if Path(p).exists()), None)
    if path is None:
        pkg = PACKAGES.get(name, name)
        raise StackError(f"{name} is not installed: run scripts/bootstrap.sh (as root) or apt-get install {pkg}")
    return path


@dataclass
class Service:
    name: str
    argv: list[str]
    workdir: Path
    ready: Callable[[], bool]
    env: dict[str, str] = field(default_factory=dict)
    ready_timeout: float = 60.0
    fresh_log: bool = False  # truncate the log at start (so a readiness check can read it)
    ports: tuple[int, ...] = ()  # must be free before the start, and held by this process when ready

    @property
    def pidfile(self) -> Path:
        return self.workdir / f"{self.name}.pid"

    @property
    def logfile(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        try:  # a zombie or a reused pid is not our service
            stat = Path(f"/proc/{pid}/stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] == "Z":
                return None
        except OSError:
            pass
        return pid

    def start(self) -> int:
        pid = self.pid()
        if pid is not None:
            return pid
        busy = port_conflicts([self])
        if busy:
            raise StackError("; ".join(busy))
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.logfile.open("wb" if self.fresh_log else "ab") as log:
            proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.workdir,
                env={**os.environ, **self.env}, start_new_session=True,
            )
        self.pidfile.write_text(str(proc.pid))
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise StackError(f"{self.name} exited with code {proc.returncode}; log {self.logfile}:\n{self.tail()}")
            if self.ready() and proc.poll() is None and self._answers_itself(proc.pid):
                return proc.pid
            time.sleep(0.1)
        self.stop()
        raise StackError(f"{self.name} did not become ready in {self.ready_timeout:.0f}s; log:\n{self.tail()}")

    def _answers_itself(self, pid: int) -> bool:
        """The readiness check was answered by this process, not by another one on the same port."""
        return all(owned_by(port, pid) is not False for port in self.ports)

    def tail(self, n: int = 15) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0, sig: int = signal.SIGTERM) -> bool:
        pid = self.pid()
        if pid is None:
            self.pidfile.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._alive(pid):
            time.sleep(0.05)
        if self._alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            while self._alive(pid):
                time.sleep(0.05)
        self.pidfile.unlink(missing_ok=True)
        return True

    def kill(self) -> None:
        """SIGKILL, for crash tests."""
        self.stop(timeout=0.0, sig=signal.SIGKILL)

    @staticmethod
    def _alive(pid: int) -> bool:
        with contextlib.suppress(ChildProcessError):
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False


# --- the servers ---------------------------------------------------------------------------------
def mosquitto(workdir: Path, port: int, extra_conf: str = "", anonymous: bool = True, plain_listener: bool = True) -> Service:
    """Mosquitto with persistence in ``workdir``. ``plain_listener``: a plain listener on 127.0.0.1:port; without it,
    ``extra_conf`` brings the listener(s) (e.g. collector.broker.listener_conf) and ``port`` is only the readiness check."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "data").mkdir(exist_ok=True)
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        "per_listener_settings false\n"
        f"persistence true\npersistence_location {workdir / 'data'}/\nautosave_interval 5\n"
        "log_dest stdout\nlog_type error\nlog_type warning\nlog_type notice\n"
        "max_queued_messages 100000\nmax_inflight_messages 100\nmessage_size_limit 524288\n"
        + (f"listener {port} 127.0.0.1\n" if plain_listener else "")
        + ("allow_anonymous true\n" if anonymous else "allow_anonymous false\n")
        + extra_conf
    )
    if os.geteuid() == 0:  # mosquitto drops to user 'mosquitto' when started as root
        with contextlib.suppress(KeyError, OSError):
            import pwd

            uid = pwd.getpwnam("mosquitto").pw_uid
            for p in (workdir, workdir / "data"):
                os.chown(p, uid, -1)
    return Service("mosquitto", [find_binary("mosquitto"), "-c", str(conf)], workdir, tcp_ready(port),
                   ports=(port,) if plain_listener else ())


def influxdb(workdir: Path, port: int, rpc_port: int) -> Service:
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "influxdb.conf"
    conf.write_text(
        f'reporting-disabled = true\nbind-address = "127.0.0.1:{rpc_port}"\n'
        f'[meta]\n  dir = "{workdir}/meta"\n'
        f'[data]\n  dir = "{workdir}/data"\n  wal-dir = "{workdir}/wal"\n  query-log-enabled = false\n'
        f'  index-version = "tsi1"\n'
        f'[http]\n  bind-address = "127.0.0.1:{port}"\n  log-enabled = false\n  max-body-size = 50000000\n'
        '[monitor]\n  store-enabled = false\n'
        '[logging]\n  level = "warn"\n'
    )
    return Service("influxd", [find_binary("influxd"), "-config", str(conf)], workdir,
                   http_ready(f"http://127.0.0.1:{port}/ping", 204), ports=(port, rpc_port))


def alertmanager(workdir: Path, port: int, config_text: str | None = None) -> Service:
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "alertmanager.yml"
    if config_text is not None or not conf.exists():
        conf.write_text(config_text or (
            "route:\n  receiver: default\n  group_by: [alertname, commune]\n"
            "receivers:\n  - name: default\n"
        ))
    argv = [find_binary("prometheus-alertmanager"), f"--config.file={conf}", f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn"]
    return Service("alertmanager", argv, workdir, http_ready(f"http://127.0.0.1:{port}/-/ready"), ports=(port,))


def smtp_sink(workdir: Path, port: int, mail_dir: Path) -> Service:
    """``python -m devstack.smtp_sink`` (devstack is not installed: run from this checkout)."""
    return Service("smtp-sink", [sys.executable, "-m", "devstack.smtp_sink", "--port", str(port), "--dir", str(mail_dir)],
                   workdir, tcp_ready(port), env={"PYTHONUNBUFFERED": "1", "PYTHONPATH": str(Path(__file__).parents[1])},
                   ports=(port,))


def python_service(name: str, workdir: Path, args: list[str], ready: Callable[[], bool]) -> Service:
    return Service(name, [sys.executable, "-m", *args], workdir, ready, env={"PYTHONUNBUFFERED": "1"})


def log_says(workdir: Path, name: str, text: str) -> Callable[[], bool]:
    """Ready when the service's (fresh) log contains ``text``."""
    def check() -> bool:
        try:
            return text in (workdir / f"{name}.log").read_text(errors="replace")
        except OSError:
            return False

    return check


# --- alerting for the local stack ----------------------------------------------------------------
@dataclass(frozen=True)
class Alerting:
    contacts: Path
    alertmanager_yml: Path
    ack_secret: Path


def write_alerting(stack_dir: Path, fleet: Path, smtp_port: int) -> Alerting:
    """Contacts (every commune of the inventory -> a local mailbox at the SMTP sink), the generated
    alertmanager.yml + templates, and the acknowledge-link secret."""
    import secrets

    from collector.alerts import amconfig
    from collector.alerts.contacts import load_contacts
    from collector.config import load_inventory

    inventory = load_inventory(fleet)
    contacts = stack_dir / "contacts.yaml"
    if not contacts.exists():
        codes = sorted({a.commune.code for a in inventory.agents.values()})
        contacts.write_text(
            "# Who gets which alerts (local stack: everything goes to the SMTP sink, mails land in state/mail/).\n"
            + yaml.safe_dump({
                "province": {"email": ["tinh@giamsat.local"]},
                "communes": {c: {"email": [f"cntt-{c}@giamsat.local"]} for c in codes},
                "smtp": {"smarthost": f"127.0.0.1:{smtp_port}", "from": "giamsat@giamsat.local",
                         "require_tls": False},
            }, allow_unicode=True), encoding="utf-8")
    amconfig.write(stack_dir / "alertmanager", inventory, load_contacts(contacts))
    secret = stack_dir / "ack-secret"
    if not secret.exists():
        secret.write_text(secrets.token_hex(32) + "\n")
        secret.chmod(0o600)
    return Alerting(contacts, stack_dir / "alertmanager" / "alertmanager.yml", secret)


# --- the whole local stack -----------------------------------------------------------------------
@dataclass
class LocalStack:
    state: Path
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    agent_config: Path | None = None

    def write_configs(self) -> tuple[Path, Path]:
        d = self.state / "stack"
        d.mkdir(parents=True, exist_ok=True)
        fleet = d / "fleet.yaml"
        if not fleet.exists():
            fleet.write_text(
                "# Fleet inventory: agent id -> commune (official code) and site. Edit, or use commune-collector enroll.\n"
                "# role gateway: the site's always-on monitor, whose silence is alerted at any hour.\n"
                + yaml.safe_dump({"agents": {"local-agent": {"commune": "07900", "site": "tru-so-chinh",
                                                             "name": "Máy chủ thử nghiệm", "role": "gateway"}}},
                                 allow_unicode=True)
            )
        metrics = self.ports.get("collector_metrics", DEFAULT_PORTS["collector_metrics"])
        alerts = write_alerting(d, fleet, self.ports.get("smtp", DEFAULT_PORTS["smtp"]))
        collector_cfg = d / "collector.yaml"
        collector_cfg.write_text(yaml.safe_dump({
            "inventory": str(fleet),
            "mqtt": {"host": "127.0.0.1", "port": self.ports["mqtt"], "client_id": stack_client_id(self.state)},
            "influx": {"url": f"http://127.0.0.1:{self.ports['influx']}", "database": "commune_monitor"},
            "metrics_listen": f"127.0.0.1:{metrics}",
            "alerts": {"enabled": True, "alertmanager_urls": [f"http://127.0.0.1:{self.ports['alertmanager']}"],
                       "ack_secret_file": str(alerts.ack_secret), "public_url": f"http://127.0.0.1:{metrics}"},
        }))
        src = self.agent_config.read_text(encoding="utf-8") if self.agent_config else \
            importlib.resources.files("agent").joinpath("defaults/agent.yaml").read_text(encoding="utf-8")
        agent_doc = yaml.safe_load(src)
        agent_doc.setdefault("mqtt", {})["port"] = self.ports["mqtt"]
        agent_cfg = d / "agent.yaml"
        agent_cfg.write_text(yaml.safe_dump(agent_doc, allow_unicode=True, sort_keys=False))
        return collector_cfg, agent_cfg

    def services(self) -> list[Service]:
        collector_cfg, agent_cfg = self.state / "stack" / "collector.yaml", self.state / "stack" / "agent.yaml"
        smtp = self.ports.get("smtp", DEFAULT_PORTS["smtp"])
        generated = self.state / "stack" / "alertmanager" / "alertmanager.yml"
        am_config = generated.read_text(encoding="utf-8") if generated.exists() else None
        return [
            mosquitto(self.state / "mosquitto", self.ports["mqtt"]),
            influxdb(self.state / "influxdb", self.ports["influx"], self.ports["influx_rpc"]),
            smtp_sink(self.state / "smtp-sink", smtp, self.state / "mail"),
            alertmanager(self.state / "alertmanager", self.ports["alertmanager"], am_config),
            self._python("collector", collector_cfg,
                         (self.ports.get("collector_metrics", DEFAULT_PORTS["collector_metrics"]),)),
            self._python("agent", agent_cfg),
            *simulator_services(self.state, self.ports["mqtt"]),
        ]

    def _python(self, name: str, config: Path, ports: tuple[int, ...] = ()) -> Service:
        d = self.state / name
        svc = python_service(name, d, [f"{name}.cli", "run", "-c", str(config), "--state-dir", str(d)],
                             log_says(d, name, "connected to mqtt"))
        svc.fresh_log = True
        svc.ports = ports
        return svc

    def up(self, log: Callable[[str], None] = print) -> None:
        """Start every service (the province simulator too once ``devstack.simulator.configure`` ran)."""
        self.write_configs()
        busy = port_conflicts([svc for svc in self.services() if svc.pid() is None])
        if busy:  # nothing is started when any port is taken
            raise StackError("cannot start the stack: " + "; ".join(busy)
                             + " (stop that process, or choose other ports: python -m devstack up --help)")
        for svc in self.services():
            was = svc.pid()
            pid = svc.start()
            log(f"{svc.name:13} {'already running' if was else 'started'} (pid {pid}), log {svc.logfile}")

    def down(self, log: Callable[[str], None] = print) -> None:
        for svc in reversed(self.services()):
            log(f"{svc.name:13} {'stopped' if svc.stop() else 'not running'}")

    def status(self) -> list[tuple[str, int | None]]:
        return [(svc.name, svc.pid()) for svc in self.services()]


def simulator_services(state: Path, mqtt_port: int) -> list[Service]:
    from devstack.simulator import services

    return services(state, mqtt_port)


def port_conflicts(services: list[Service]) -> list[str]:
    """'mosquitto: port 18830 is in use by mosquitto (pid 123)' for every port of ``services`` that is taken."""
    out = []
    for svc in services:
        for port in svc.ports:
            h = holder(port)
            if h is not None:
                out.append(f"{svc.name}: {h.describe()}")
    return out


def stack_client_id(state: Path) -> str:
    """The collector's MQTT client id, unique per state folder: one stack's collector never takes over another's
    session on a shared broker."""
    import hashlib

    return f"commune-collector-{hashlib.sha256(str(state.resolve()).encode()).hexdigest()[:10]}"
