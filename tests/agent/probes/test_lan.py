"""lan probe inside network namespaces: an agent, a gateway and hosts on one bridge (all namespaces and links
are ours, prefixed tlan-, and removed at the end). The probe runs in the agent's namespace as a real process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from agent.wire import SCHEMA_VERSION, Batch, Point, decode_batch, encode
from tests.support.paths import REPO

pytestmark = pytest.mark.netns

RUNNER = REPO / "tests" / "support" / "lan_runner.py"
NET = "10.55.5"
SWITCH = "tlan-sw"
BRIDGE = "tlanbr"
AGENT_NS = "tlan-ag"


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=check, timeout=30)


class Lan:
    """One office LAN: a 'switch' namespace holding the bridge, and one namespace per host."""

    def __init__(self) -> None:
        self.namespaces: list[str] = []

    def add_ns(self, name: str) -> None:
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")

    def add_host(self, ns: str, last_octet: int, mac: str, gateway: str = "") -> None:
        self.add_ns(ns)
        port = f"tlanp{last_octet}"
        sh("ip", "link", "add", "eth0", "netns", ns, "address", mac, "type", "veth", "peer", "name", port, "netns", SWITCH)
        sh("ip", "-n", SWITCH, "link", "set", port, "master", BRIDGE, "up")
        sh("ip", "-n", ns, "addr", "add", f"{NET}.{last_octet}/24", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        if gateway:
            sh("ip", "-n", ns, "route", "add", "default", "via", gateway)

    def remove(self, ns: str) -> None:
        sh("ip", "netns", "del", ns)
        self.namespaces.remove(ns)

    def close(self) -> None:
        for ns in reversed(self.namespaces):
            sh("ip", "netns", "del", ns, check=False)
        self.namespaces.clear()


@pytest.fixture
def lan() -> Iterator[Lan]:
    if os.geteuid() != 0:
        pytest.skip("needs root to create network namespaces")
    if shutil.which("ip") is None:
        pytest.fail("iproute2 (ip) is missing although this machine runs as root: run scripts/bootstrap.sh")
    for ns in sh("ip", "netns", "list").stdout.split():
        if ns.startswith("tlan-"):
            sh("ip", "netns", "del", ns, check=False)  # left over by an interrupted run of this test
    net = Lan()
    try:
        net.add_ns(SWITCH)
        sh("ip", "-n", SWITCH, "link", "add", BRIDGE, "type", "bridge")
        sh("ip", "-n", SWITCH, "link", "set", BRIDGE, "up")
        net.add_host(AGENT_NS, 10, "02:55:05:00:00:10", gateway=f"{NET}.1")
        net.add_host("tlan-gw", 1, "02:55:05:00:00:01")
        net.add_host("tlan-h21", 21, "02:55:05:00:00:21")
        net.add_host("tlan-h22", 22, "02:55:05:00:00:22")
        yield net
    finally:
        net.close()
    assert not [ns for ns in sh("ip", "netns", "list").stdout.split() if ns.startswith("tlan-")]


class Runner:
    """The probe in the agent namespace; ``scan()`` runs one round."""

    def __init__(self, config: dict[str, Any], state: Path, user: list[str] | None = None) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        argv = ["ip", "netns", "exec", AGENT_NS, *(user or []), sys.executable, str(RUNNER), json.dumps(config), str(state)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env, cwd=REPO)

    def scan(self) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write("scan\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            stderr = self.proc.stderr.read() if self.proc.stderr else ""
            raise AssertionError(f"lan runner died: {stderr[-3000:]}")
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def scan_point(round_: dict[str, Any]) -> dict[str, Any]:
    point: dict[str, Any] = next(p for p in round_["points"] if p["m"] == "lan_scan")
    return point


def assert_wire_valid(round_: dict[str, Any]) -> None:
    """The points pass the collector's strict decoder."""
    points = [msgspec.convert(p, Point) for p in round_["points"]]
    batch = Batch(v=SCHEMA_VERSION, agent="t5", seq=1, sent=1, points=points)
    assert decode_batch(encode(batch)).points == points


def events(round_: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [p["f"] for p in round_["points"] if p["m"] == "lan_event" and p["tg"]["event"] == kind]


def test_arp_sweep_new_vanished_and_gateway_change(lan: Lan, tmp_path: Path) -> None:
    runner = Runner({"arp_timeout": 1, "retries": 1, "vanish_after": 2}, tmp_path / "state")
    try:
        first = runner.scan()
        assert_wire_valid(first)
        scan = scan_point(first)
        assert scan["tg"] == {"interface": "eth0", "subnet": f"{NET}.0/24"}  # found from the default route
        assert scan["f"]["result"] == "ok", scan
        assert scan["f"]["hosts_up"] == 3  # gateway, .21, .22 (not the agent itself)
        assert scan["f"]["gateway_mac"] == "02:55:05:00:00:01"
        assert scan["f"]["new_hosts"] == 0  # the first scan is the baseline
        assert first["check"][0]["status"] == "ok"
        assert first["check"][0]["section"] == "Thiết bị mạng"

        lan.add_host("tlan-h23", 23, "02:55:05:00:00:23")
        second = runner.scan()
        assert_wire_valid(second)
        assert scan_point(second)["f"]["hosts_up"] == 4
        assert scan_point(second)["f"]["new_hosts"] == 1
        assert events(second, "new_host") == [{"mac": "02:55:05:00:00:23", "ip": f"{NET}.23"}]
        assert second["check"][0]["status"] == "warn"
        assert "thiết bị mới" in second["check"][0]["text"]

        lan.remove("tlan-h22")
        third = runner.scan()  # missed once: not yet vanished
        assert scan_point(third)["f"]["hosts_up"] == 3
        assert events(third, "vanished_host") == []
        fourth = runner.scan()
        assert_wire_valid(fourth)
        assert scan_point(fourth)["f"]["vanished_hosts"] == 1
        assert events(fourth, "vanished_host") == [{"mac": "02:55:05:00:00:22", "ip": f"{NET}.22"}]

        # the router is replaced (or spoofed): same IP, another MAC
        sh("ip", "-n", "tlan-gw", "link", "set", "eth0", "address", "02:55:05:00:00:99")
        sh("ip", "-n", AGENT_NS, "neigh", "flush", "all")
        fifth = runner.scan()
        assert_wire_valid(fifth)
        scan = scan_point(fifth)
        assert scan["f"]["gateway_mac_changed"] == 1
        assert scan["f"]["result"] == "gateway_mac_changed"
        assert scan["f"]["ok"] == 0
        assert events(fifth, "gateway_mac_changed") == [
            {"mac": "02:55:05:00:00:99", "ip": f"{NET}.1", "previous_mac": "02:55:05:00:00:01"}]
        assert fifth["check"][0]["status"] == "fail"
        assert "Cổng mạng" in fifth["check"][0]["text"]
        sixth = runner.scan()  # the new MAC is now the known one
        assert scan_point(sixth)["f"]["gateway_mac_changed"] == 0
    finally:
        runner.close()

    # the known MACs survive a restart of the agent: no flood of new-host events
    runner = Runner({"arp_timeout": 1, "retries": 0, "vanish_after": 2}, tmp_path / "state")
    try:
        again = runner.scan()
        assert scan_point(again)["f"]["new_hosts"] == 0
        assert scan_point(again)["f"]["known_hosts"] == 3
    finally:
        runner.close()


def test_gateway_down(lan: Lan, tmp_path: Path) -> None:
    lan.remove("tlan-gw")
    runner = Runner({"arp_timeout": 1, "retries": 0}, tmp_path / "state")
    try:
        scan = scan_point(runner.scan())
    finally:
        runner.close()
    assert scan["f"]["result"] == "gateway_unreachable"
    assert scan["f"]["gateway_up"] == 0
    assert scan["f"]["hosts_up"] == 2


def test_without_privilege_reports_disabled(lan: Lan, tmp_path: Path) -> None:
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is needed to drop privileges")
    # root, but without CAP_NET_RAW (dropped from the bounding set, so the exec'd Python never has it)
    drop = ["setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw"]
    runner = Runner({"arp_timeout": 1}, tmp_path / "state", user=drop)
    try:
        round_ = runner.scan()
    finally:
        runner.close()
    scan = scan_point(round_)
    assert scan["f"]["result"] == "disabled"
    assert "CAP_NET_RAW" in scan["f"]["reason"]
    assert "ok" not in scan["f"]  # disabled is not a failure
    assert round_["check"][0]["status"] == "warn"
    assert "quyền quản trị" in round_["check"][0]["text"]
