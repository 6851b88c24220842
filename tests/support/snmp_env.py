"""Real SNMP agents for the tests: snmpsim serving recordings of real devices, and net-snmp's snmpd.

Both bind 127.0.0.1 on a free UDP port, are stopped by PID, and are checked with net-snmp's own
``snmpget``/``snmpwalk`` (an independent client) so the tests compare the probe with what they read.
"""

from __future__ import annotations

import bz2
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def snmpsim_venv() -> Path:
    """The private snmpsim venv (built once by scripts/snmpsim-venv.sh)."""
    try:
        out = subprocess.run([str(REPO / "scripts" / "snmpsim-venv.sh")], check=True, capture_output=True,
                             text=True, timeout=600)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"cannot build the snmpsim venv: {exc}")
    return Path(out.stdout.strip().splitlines()[-1])


def recording(venv: Path, relpath: str) -> str:
    """Text of an snmpsim-data recording, e.g. ``network/switch/cisco-c3560``."""
    site = next((venv / "lib").glob("python3*/site-packages/snmpsim_data/data"))
    path = site / f"{relpath}.snmprec.bz2"
    if path.exists():
        return bz2.decompress(path.read_bytes()).decode("utf-8")
    return (site / f"{relpath}.snmprec").read_text(encoding="utf-8")


def snmp_cli(*args: str, timeout: float = 20) -> list[tuple[str, str]]:
    """Run snmpget/snmpwalk with numeric OIDs and values; ``[(oid without leading dot, value)]``."""
    if shutil.which(args[0]) is None:
        pytest.fail(f"{args[0]} not installed (Debian package snmp; see scripts/apt-packages.txt)")
    proc = subprocess.run([args[0], "-On", "-Oq", "-Ot", "-Oe", *args[1:]], capture_output=True,
                          text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {proc.stderr.strip()}")
    rows = []
    for line in proc.stdout.splitlines():
        if not line.startswith("."):
            continue
        oid, _, value = line.partition(" ")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        rows.append((oid.lstrip("."), value))
    return rows


def column(rows: list[tuple[str, str]], col: str) -> dict[str, str]:
    return {oid[len(col) + 1:]: v for oid, v in rows if oid.startswith(col + ".")}


def _wait_answering(argv: list[str], proc: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        if subprocess.run(argv, capture_output=True, timeout=10, check=False).returncode == 0:
            return
    raise RuntimeError(f"{what} did not answer within 60 s: {log.read_text(errors='replace')[-2000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@dataclass
class Agent:
    port: int
    pid: int


@contextmanager
def run_snmpsim(recordings: dict[str, str]) -> Iterator[Agent]:
    """snmpsim serving ``{community: snmprec text}`` on 127.0.0.1; as root it drops privileges to nobody,
    so its files live in a world-traversable temp dir (pytest's tmp_path is private to root)."""
    venv = snmpsim_venv()
    workdir = Path(tempfile.mkdtemp(prefix="snmpsim-"))
    data, cache = workdir / "data", workdir / "cache"
    data.mkdir(parents=True)
    cache.mkdir()
    for community, text in recordings.items():
        (data / f"{community}.snmprec").write_text(text, encoding="utf-8")
    workdir.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(data, "nobody")
        shutil.chown(cache, "nobody")
        for f in data.iterdir():
            shutil.chown(f, "nobody")
    port = free_udp_port()
    log = workdir / "snmpsim.log"
    argv = [str(venv / "bin" / "snmpsim-command-responder"), f"--data-dir={data}", f"--cache-dir={cache}",
            f"--agent-udpv4-endpoint=127.0.0.1:{port}", "--log-level=error"]
    if os.geteuid() == 0:
        argv += ["--process-user=nobody", "--process-group=nogroup"]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        first = next(iter(recordings))
        _wait_answering(["snmpget", "-v2c", "-c", first, "-t", "1", "-r", "0", f"127.0.0.1:{port}",
                         "1.3.6.1.2.1.1.3.0"], proc, log, "snmpsim")
        yield Agent(port, proc.pid)
    finally:
        _stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


V3_USER = "labuser"
V3_AUTH = "lab-auth-secret"
V3_PRIV = "lab-priv-secret"
V2_COMMUNITY = "labtest"


@contextmanager
def run_snmpd(workdir: Path) -> Iterator[Agent]:
    """net-snmp's snmpd on 127.0.0.1 with a v2c community and a v3 authPriv user (SHA + AES)."""
    if shutil.which("snmpd") is None:
        pytest.fail("snmpd not installed (Debian package snmpd; see scripts/apt-packages.txt)")
    persist = workdir / "persist"
    persist.mkdir(parents=True)
    conf = workdir / "snmpd.conf"
    conf.write_text(
        f"rocommunity {V2_COMMUNITY} 127.0.0.1\n"
        f'createUser {V3_USER} SHA "{V3_AUTH}" AES "{V3_PRIV}"\n'
        f"rouser {V3_USER} priv\n"
        "sysName lab-router\nsysLocation test bench\n",
        encoding="utf-8",
    )
    port = free_udp_port()
    log = workdir / "snmpd.log"
    env = {**os.environ, "SNMP_PERSISTENT_DIR": str(persist)}
    proc = subprocess.Popen(
        ["snmpd", "-f", "-Lf", str(log), "-C", "-c", str(conf), "-M", "/dev/null", "-p", str(workdir / "snmpd.pid"),
         f"udp:127.0.0.1:{port}"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        log.touch()
        _wait_answering(["snmpget", "-v2c", "-c", V2_COMMUNITY, "-t", "1", "-r", "0", f"127.0.0.1:{port}",
                         "1.3.6.1.2.1.1.3.0"], proc, log, "snmpd")
        yield Agent(port, proc.pid)
    finally:
        _stop(proc)


def writecache(text: str, oid_prefixes: tuple[str, ...]) -> str:
    """Make the given OIDs of a recording writable (snmpsim's writecache variation), so a test can move
    counters and sysUpTime with SNMP SETs the way a live device would."""
    out = []
    for line in text.splitlines():
        oid, sep, rest = line.partition("|")
        if sep and any(oid == p or oid.startswith(p + ".") for p in oid_prefixes):
            tag, _, value = rest.partition("|")
            if tag.isdigit():
                line = f"{oid}|{tag}:writecache|value={value}"
        out.append(line)
    return "\n".join(out) + "\n"


def delayed(text: str, oid: str, wait_ms: int) -> str:
    """Make the agent answer ``oid`` only after ``wait_ms`` (snmpsim's delay variation): a slow device."""
    out = []
    for line in text.splitlines():
        o, sep, rest = line.partition("|")
        if sep and o == oid:
            tag, _, value = rest.partition("|")
            line = f"{o}|{tag}:delay|wait={wait_ms},value={value}"
        out.append(line)
    return "\n".join(out) + "\n"
