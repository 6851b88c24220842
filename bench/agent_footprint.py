"""Agent footprint: steady RSS and CPU of the real agent with the default probe set of a commune PC (host, ping
incl. the default gateway, dns, tcp, the http catalogue, token), beside prometheus-node-exporter scraped at
the same interval, measured by the same sampler in the same run. Offline: the probes' targets are local
(dnsmasq for dns, a local HTTP server in place of each catalogue portal, a SoftHSM token holding a
certificate, TCP to local listeners); intervals are those of agent/defaults/agent-commune-site.yaml.
Also the agent's start-up time: process start -> its retained ``online`` status at the broker.

The agent runs as the commune_agent Ansible role installs it: a venv made with the role's interpreter
(``commune_agent_python``, /usr/bin/python3 on Debian; this interpreter when that one is missing or older than
3.11) holding the package's base install (the agent's dependencies only, not the ``collector`` extra), built
fresh in the run's temporary directory with pip. ``--agent-python project`` runs it from the project's venv
instead (every extra and the dev tools installed: their site-wide ``.pth`` hooks run at the agent's start).

The agent checks each token module in a short-lived child process (agent.probes.token.scan), so the agent is
sampled as a process tree: at every sample its RSS is the sum over the agent and its live children (shared
library pages counted once per process: an overstatement), and its CPU includes the children it has reaped.
node-exporter is sampled the same way. A scan child lives about a second per token interval and may fall
between two samples, so its own peak RSS and CPU per round are measured separately (kernel rusage of one
child run the way the agent runs it) and reported beside the steady figures.

prometheus-node-exporter (Debian) is installed with apt-get when missing (as root).

    python -m bench.agent_footprint [--seconds 300] [--interval 30] [--agent-python deployed|project]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.server
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from agent import wire
from agent.units import parse_duration
from bench.common import Footprint, sample, start_ministack
from bench.results import Row, record
from devstack import services as stack

REPO = Path(__file__).resolve().parents[1]
ROLE_PYTHON = "/usr/bin/python3"  # ansible/roles/commune_agent/defaults/main.yml: commune_agent_python

NODE_EXPORTER = "prometheus-node-exporter"
PIN = "1234"


class _Portal(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = "<title>Cổng Dịch vụ công</title> Đăng nhập".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a: object) -> None:
        pass


def node_exporter() -> str:
    exe = shutil.which(NODE_EXPORTER)
    if exe is None and os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"installing {NODE_EXPORTER} (apt-get) ...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", NODE_EXPORTER], env=env,
                       check=False, capture_output=True, timeout=600)
        exe = shutil.which(NODE_EXPORTER)
    if exe is None:
        raise SystemExit(f"{NODE_EXPORTER} is missing: apt-get install {NODE_EXPORTER} (Debian)")
    return exe


def _usable(python: str) -> bool:
    check = "import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))"
    return Path(python).exists() and subprocess.run([python, "-c", check], capture_output=True, timeout=60).returncode == 0


def deployed_python(root: Path) -> tuple[str, str]:
    """(the venv's python, what it is): the agent installed as the commune_agent role installs it."""
    base = ROLE_PYTHON if _usable(ROLE_PYTHON) else getattr(sys, "_base_executable", sys.executable)
    venv = root / "agent-venv"
    subprocess.run([base, "-m", "venv", str(venv)], check=True, timeout=300)
    py = str(venv / "bin" / "python")
    print(f"installing the agent (base install) into {venv} with {base} ...", flush=True)
    src = root / "src"  # a copy: building in the work tree would leave build/ there (and reuse stale files from it)
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    for name in ("agent", "collector", "common"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    r = subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(src)],
                       capture_output=True, text=True, timeout=1200)
    if r.returncode != 0:
        raise SystemExit(f"pip install of the agent failed:\n{r.stdout[-3000:]}{r.stderr[-3000:]}")
    version = subprocess.run([py, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True,
                             check=True, timeout=60).stdout.strip()
    return py, f"venv of {base} (Python {version}), base install"


FLOORS = (
    ("Python alone", ""),
    ("+ asyncio, ssl, sqlite3 (the standard library the agent runs on)", "import asyncio, ssl, sqlite3"),
    ("+ msgspec, PyYAML, psutil, icmplib (the libraries the agent runs on)",
     "import asyncio, ssl, sqlite3, msgspec, yaml, psutil, icmplib"),
)
"""What the agent's RSS cannot go below without replacing a dependency: fresh processes of the agent's interpreter
importing only that, no agent code (``gc.collect()``, then VmRSS)."""


def import_floors(python: str, cwd: Path) -> list[tuple[str, float]]:
    out = []
    for name, imports in FLOORS:
        code = f"{imports}\nimport gc; gc.collect()\n" \
               "print(open('/proc/self/status').read().split('VmRSS:')[1].split()[0])"
        kib = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True, timeout=60,
                             cwd=cwd).stdout.strip()
        out.append((name, int(kib) / 1024))
    return out


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dnsmasq(root: Path) -> tuple[subprocess.Popen[bytes], int]:
    exe = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    port = _free_udp_port()
    proc = subprocess.Popen([exe, "--keep-in-foreground", "--conf-file=/dev/null", f"--port={port}",
                             "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
                             f"--pid-file={root / 'dnsmasq.pid'}", "--user=root",
                             "--address=/gov.vn/127.0.0.1"], stderr=subprocess.DEVNULL)
    return proc, port


def softhsm_token(root: Path) -> tuple[str, Path, dict[str, str]]:
    """A SoftHSM token holding one certificate issued by a local CA: (library, CA bundle, env)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    lib = next((str(p) for pat in ("lib/*/softhsm/libsofthsm2.so", "lib/softhsm/libsofthsm2.so")
                for p in sorted(Path("/usr").glob(pat))), None)
    if lib is None:
        raise SystemExit("softhsm2 is missing: apt-get install softhsm2 opensc")
    tokendir = root / "tokens"
    tokendir.mkdir(parents=True)
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokendir}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Bench CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "UBND Xã A")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=365))
            .sign(ca_key, hashes.SHA256()))
    bundle = root / "ca.pem"
    bundle.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    der = root / "cert.der"
    der.write_bytes(leaf.public_bytes(serialization.Encoding.DER))
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "chuky-so", "--pin", PIN, "--so-pin", "5678"],
                   check=True, env=env, capture_output=True, timeout=60)
    subprocess.run(["pkcs11-tool", "--module", lib, "--token-label", "chuky-so", "--login", "--pin", PIN,
                    "--write-object", str(der), "--type", "cert", "--id", "01", "--label", "cert1"],
                   check=True, env=env, capture_output=True, timeout=60)
    return lib, bundle, env


def commune_pc_probes(web_port: int, dns_port: int, tcp_ports: list[int], lib: str, bundle: Path,
                      catalogue: Path) -> dict[str, Any]:
    """agent/defaults/agent-commune-site.yaml's host, ping, dns, tcp, http and token sections, local targets."""
    site = yaml.safe_load((Path("agent/defaults/agent-commune-site.yaml")).read_text())["probes"]
    entries = yaml.safe_load(Path("agent/defaults/services-phutho.yaml").read_text())
    catalogue.write_text(yaml.safe_dump([{**e, "url": f"http://127.0.0.1:{web_port}/{e['name']}"} for e in entries],
                                        allow_unicode=True))
    ping = {**site["ping"], "targets": [{**t, "host": "127.0.0.1"} for t in site["ping"]["targets"]]}
    dns = {**site["dns"], "system": False,
           "resolvers": [{**r, "address": "127.0.0.1", "port": dns_port} for r in site["dns"]["resolvers"]]}
    tcp = {**site["tcp"], "targets": [{**t, "host": "127.0.0.1", "port": p}
                                      for t, p in zip(site["tcp"]["targets"], tcp_ports, strict=False)]}
    http_ = {k: v for k, v in site["http"].items() if k not in ("targets", "skip")}
    http_["catalogue"] = str(catalogue)
    token = {"interval": site["token"]["interval"], "modules": [{"name": "softhsm", "path": lib,
                                                                 "ca_bundle": str(bundle)}]}
    return {"host": site["host"], "ping": ping, "dns": dns, "tcp": tcp, "http": http_, "token": token}


def _scraper(url: str, every: float, stop: threading.Event) -> None:
    while not stop.wait(every):
        with contextlib.suppress(OSError):
            urllib.request.urlopen(url, timeout=10).read()


def token_scan_child(python: str, cfg_file: Path, out: Path) -> tuple[float, float, int]:
    """One token scan child, run as the agent runs it: (peak RSS MiB, CPU s, points) from its kernel rusage."""
    from agent.config import load_config
    from agent.probes.token import TokenConfig
    from agent.probes.token.child import CHILD_MODULE, request_bytes

    cfg = load_config(cfg_file).probes["token"]
    assert isinstance(cfg, TokenConfig)
    with out.open("wb") as sink:
        proc = subprocess.Popen([python, "-m", CHILD_MODULE], stdin=subprocess.PIPE, stdout=sink,
                                stderr=subprocess.DEVNULL, cwd=out.parent)
        assert proc.stdin is not None
        proc.stdin.write(request_bytes(cfg, cfg.modules[0], time.time_ns()))
        proc.stdin.close()
        _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"token scan child failed: exit status {proc.returncode}")
    points = out.read_bytes().count(b'"m":')
    return usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, points


def _startup(mqtt_port: int, agent_id: str, start: Any) -> tuple[int, float]:
    """Start the agent; seconds from process start to its ``online`` status at the broker."""
    online = threading.Event()
    sub = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-startup")
    sub.on_message = lambda c, u, m: online.set() if b"online" in m.payload else None
    sub.connect("127.0.0.1", mqtt_port)
    sub.subscribe(wire.topic(agent_id, "status"), qos=1)
    sub.loop_start()
    time.sleep(0.5)  # the subscription is in place before the agent starts
    t0 = time.perf_counter()
    pid: int = start()
    online.wait(60)
    took = time.perf_counter() - t0
    sub.loop_stop()
    sub.disconnect()
    return pid, took


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=300, help="sampling window (after a 20 s warm-up)")
    ap.add_argument("--interval", type=float, default=30.0, help="node-exporter scrape interval (s)")
    ap.add_argument("--agent-python", choices=("deployed", "project"), default="deployed",
                    help="deployed: a venv with the base install, as the Ansible role makes it (default); "
                         "project: the project's venv")
    args = ap.parse_args(argv)
    exe = node_exporter()
    root = Path(tempfile.mkdtemp(prefix="cm-bench-footprint-"))
    if args.agent_python == "deployed":
        python, interpreter = deployed_python(root)
    else:
        python, interpreter = sys.executable, f"project venv (Python {sys.version.split()[0]}, every extra)"
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Portal)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    dns, dns_port = dnsmasq(root)
    lib, bundle, env = softhsm_token(root)
    os.environ["SOFTHSM2_CONF"] = env["SOFTHSM2_CONF"]  # the agent inherits it
    ms = start_ministack(root, {"pc-bench": {"commune": "07900", "site": "tru-so-chinh"}})
    probes = commune_pc_probes(web.server_address[1], dns_port, [web.server_address[1], ms.mqtt_port], lib, bundle,
                               root / "catalogue.yaml")
    cfg = {"agent": {"id": "pc-bench"}, "mqtt": {"port": ms.mqtt_port}, "probes": probes}
    (root / "agent.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
    # As under its systemd unit: no TLS trust variables from this shell (this machine sets SSL_CERT_FILE, which
    # makes every TLS context load the whole CA bundle; see common/tls.py).
    for var in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
        os.environ.pop(var, None)
    agent = stack.Service("agent", [python, "-m", "agent.cli", "run", "-c", str(root / "agent.yaml"),
                                    "--state-dir", str(root / "agent")], root / "agent", lambda: True,
                          env={"PYTHONUNBUFFERED": "1"})
    ne_port = stack.free_port()
    ne = subprocess.Popen([exe, f"--web.listen-address=127.0.0.1:{ne_port}"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    stop = threading.Event()
    threading.Thread(target=_scraper, args=(f"http://127.0.0.1:{ne_port}/metrics", args.interval, stop),
                     daemon=True).start()
    try:
        t = time.perf_counter()
        subprocess.run([*agent.argv[:3], "validate", "-c", str(root / "agent.yaml")], check=True, capture_output=True)
        validate_s = time.perf_counter() - t
        pid, startup_s = _startup(ms.mqtt_port, "pc-bench", agent.start)
        results: dict[str, Footprint] = {}

        def run(name: str, p: int) -> None:
            results[name] = sample(p, args.seconds, tree=True)

        threads = [threading.Thread(target=run, args=("agent", pid)), threading.Thread(target=run, args=("ne", ne.pid))]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        a, r = results["agent"], results["ne"]
        child_rss, child_cpu, child_points = token_scan_child(python, root / "agent.yaml", root / "scan.json")
        floors = import_floors(python, root)
        stored = {m: ms.count(m, f) for m, f in (("host", "cpu_percent"), ("ping", "sent"), ("dns", "ok"),
                                                   ("tcp", "ok"), ("http", "ok"), ("token", "ok"))}
        loaded = subprocess.run(["grep", "-c", "", f"/proc/{pid}/maps"], capture_output=True, text=True).stdout.strip()
        print(f"window {args.seconds:.0f}s; points stored per measurement: {stored}; agent maps: {loaded}; "
              f"agent interpreter: {interpreter}")
        per_interval = a.cpu_percent / 100 * args.interval
        token_every = float(parse_duration(probes["token"]["interval"]))
        # The window may hold no token round, or some: the agent's own CPU plus one measured child per interval.
        with_token = a.cpu_percent - a.children_cpu_percent + child_cpu / token_every * 100
        record("agent", [
            Row("steady RSS, median", a.rss_mb_median, "MiB", "node-exporter", r.rss_mb_median, "ratio <= 1.5"),
            Row("RSS, max", a.rss_mb_max, "MiB", "node-exporter", r.rss_mb_max),
            *([Row("PSS at the end (shared library pages split among their users; information)", a.pss_mb_end,
                   "MiB", "node-exporter", r.pss_mb_end)] if a.pss_mb_end is not None else []),
            Row("CPU, average", a.cpu_percent, "% of a core", "node-exporter", r.cpu_percent, "value <= 0.2"),
            Row(f"CPU per {args.interval:g} s interval", per_interval * 1000, "ms"),
            Row(f"CPU, average incl. one token scan child per {token_every:g} s", with_token, "% of a core",
                target="value <= 0.2"),
            Row("start-up: process start -> online at the broker", startup_s, "s", target="value <= 1.5"),
            Row("commune-agent validate (import + config)", validate_s, "s"),
            Row("token scan child (one module, one round): peak RSS", child_rss, "MiB"),
            Row("token scan child (one module, one round): CPU", child_cpu * 1000, "ms"),
            *(Row(f"import floor: {name}", mib, "MiB", "node-exporter", r.rss_mb_median) for name, mib in floors),
        ], {"seconds": args.seconds, "interval_s": args.interval, "probes": sorted(probes), "agent_python": interpreter,
            "points_stored": stored, "token_child_points": child_points,
            "sampled": "process tree (agent + live children), CPU incl. reaped children"})
    finally:
        stop.set()
        ne.terminate()
        ne.wait(10)
        agent.stop()
        ms.stop()
        dns.terminate()
        dns.wait(10)
        web.shutdown()


if __name__ == "__main__":
    main()
