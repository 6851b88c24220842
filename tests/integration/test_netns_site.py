"""A commune site built from network namespaces, and `commune-agent check` run inside it for each fault.

    [agent ns]  tst-…-a0 10.203.1.2/24 ── 10.203.1.1/24 [router ns] 10.203.2.1/24 ── 10.203.2.2/24 [internet ns]
                default via 10.203.1.1                   NAT, forward                  lo: 10.203.9.1 (dnsmasq, "ISP DNS")
                                                                                           10.203.9.8 ("public address")
                                                                                           10.203.9.10 (HTTPS portals)
                                                                                       10.203.99.0/24: dropped (black hole)

Faults: iptables in the router (random loss, DNS dropped, everything dropped), `ip link set down` (the
router's uplink, the PC's own link). Every address lives inside namespaces this fixture creates and
deletes; nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import REPO
from tests.support.pki import TestCA

pytestmark = [pytest.mark.netns, pytest.mark.integration]

ROOT = REPO
MAINT = ["(?i)b[aả]o tr[iì]"]


def _run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=30)


@dataclass
class Site:
    tag: str
    tmp: Path
    ca: TestCA
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def a(self) -> str:
        return f"tst-{self.tag}-a"

    @property
    def r(self) -> str:
        return f"tst-{self.tag}-r"

    @property
    def i(self) -> str:
        return f"tst-{self.tag}-i"

    def dev(self, suffix: str) -> str:
        return f"tst{self.tag}{suffix}"  # <= 15 characters

    def ns(self, ns: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _run("ip", "netns", "exec", ns, *cmd, check=check)

    def build(self) -> None:
        a0, r0, r1, i0, d0, d1 = (self.dev(s) for s in ("a0", "r0", "r1", "i0", "d0", "d1"))
        for ns in (self.a, self.r, self.i):
            _run("ip", "netns", "add", ns)
            self.ns(ns, "ip", "link", "set", "lo", "up")
        _run("ip", "link", "add", a0, "type", "veth", "peer", "name", r0)
        _run("ip", "link", "set", a0, "netns", self.a)
        _run("ip", "link", "set", r0, "netns", self.r)
        _run("ip", "link", "add", r1, "type", "veth", "peer", "name", i0)
        _run("ip", "link", "set", r1, "netns", self.r)
        _run("ip", "link", "set", i0, "netns", self.i)
        self.ns(self.a, "ip", "addr", "add", "10.203.1.2/24", "dev", a0)
        self.ns(self.r, "ip", "addr", "add", "10.203.1.1/24", "dev", r0)
        self.ns(self.r, "ip", "addr", "add", "10.203.1.254/24", "dev", r0)  # a second "uplink" gateway
        self.ns(self.r, "ip", "addr", "add", "10.203.2.1/24", "dev", r1)
        self.ns(self.i, "ip", "addr", "add", "10.203.2.2/24", "dev", i0)
        for addr in ("10.203.9.1/32", "10.203.9.8/32", "10.203.9.10/32"):
            self.ns(self.i, "ip", "addr", "add", addr, "dev", "lo")
        _run("ip", "link", "add", d0, "type", "veth", "peer", "name", d1)  # a dead end for 10.203.99.0/24
        _run("ip", "link", "set", d0, "netns", self.i)
        _run("ip", "link", "set", d1, "netns", self.i)
        for ns, dev in ((self.a, a0), (self.r, r0), (self.r, r1), (self.i, i0), (self.i, d0), (self.i, d1)):
            self.ns(ns, "ip", "link", "set", dev, "up")
        self.ns(self.r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        self.ns(self.i, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        self.ns(self.i, "ip", "route", "add", "10.203.1.0/24", "via", "10.203.2.1")
        self.ns(self.i, "ip", "route", "add", "10.203.99.0/24", "dev", d0)
        self.ns(self.i, "iptables", "-A", "FORWARD", "-d", "10.203.99.0/24", "-j", "DROP")  # packets vanish
        self.ns(self.r, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", r1, "-j", "MASQUERADE")
        self.reset()
        # the PC's resolver (ip netns exec bind-mounts /etc/netns/<ns>/* over /etc)
        etc = Path("/etc/netns") / self.a
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "resolv.conf").write_text("nameserver 10.203.9.1\noptions timeout:1 attempts:1\n")

    def reset(self) -> None:
        """Undo every fault: links up, default routes back, router filter rules flushed."""
        a0, r0, r1 = self.dev("a0"), self.dev("r0"), self.dev("r1")
        self.ns(self.a, "ip", "link", "set", a0, "up")
        self.ns(self.r, "ip", "link", "set", r1, "up")
        self.ns(self.r, "ip", "link", "set", r0, "up")
        self.ns(self.a, "ip", "route", "replace", "default", "via", "10.203.1.1")
        self.ns(self.r, "ip", "route", "replace", "default", "via", "10.203.2.2")
        self.ns(self.r, "iptables", "-F", "FORWARD")

    def start(self, ns: str, *cmd: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(["ip", "netns", "exec", ns, *cmd], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.procs.append(proc)
        return proc

    def start_services(self) -> None:
        leaf = self.ca.issue("portal", ["dvc.test", "qlvb.test", "10.203.9.10"])
        dnsmasq = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
        dns = self.start(self.i, dnsmasq, "--keep-in-foreground", "--conf-file=/dev/null", "--port=53",
                         "--listen-address=10.203.9.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
                         "--user=root", f"--pid-file={self.tmp / 'dnsmasq.pid'}",
                         "--address=/dvc.test/10.203.9.10", "--address=/qlvb.test/10.203.9.10")
        ready = self.tmp / "portal.ready"
        portal = self.start(self.i, sys.executable, "-m", "tests.support.portal", "--bind", "10.203.9.10",
                            "--port", "443", "--cert", str(leaf.cert), "--key", str(leaf.key), "--ready", str(ready))
        deadline = time.monotonic() + 20
        while True:  # poll until both listen (or one died)
            listening = self.ns(self.i, "ss", "-Hlnu", "src", "10.203.9.1").stdout
            if ready.exists() and ":53" in listening:
                return
            for p in (dns, portal):
                if p.poll() is not None:
                    raise RuntimeError(f"service died: {p.args}: {p.stderr.read() if p.stderr else b''!r}")
            if time.monotonic() > deadline:
                raise RuntimeError("services did not start within 20 s")
            time.sleep(0.05)  # polling interval, not a synchronisation

    def teardown(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        for ns in (self.a, self.r, self.i):
            _run("ip", "netns", "del", ns, check=False)
        shutil.rmtree(Path("/etc/netns") / self.a, ignore_errors=True)

    def check(self, probes: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        cfg = self.tmp / f"agent-{secrets.token_hex(3)}.json"  # JSON is YAML
        cfg.write_text(json.dumps({"agent": {"id": "tst-site"}, "probes": probes}))
        out = subprocess.run(
            ["ip", "netns", "exec", self.a, sys.executable, "-m", "agent.cli", "check", "--json", "-c", str(cfg)],
            capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)
        assert out.stdout, f"no output (rc {out.returncode}): {out.stderr}"
        return out.returncode, json.loads(out.stdout)


def _netns_preflight() -> None:
    """Skip only where namespaces honestly cannot exist (not Linux, not root: conftest allows those reasons);
    on a root Linux machine anything missing is a broken setup, so the test fails and says what."""
    if sys.platform != "linux":
        pytest.skip("network namespaces are Linux-only")
    if os.geteuid() != 0:
        pytest.skip("needs root (ip netns, veth, iptables)")
    missing = [tool for tool in ("ip", "iptables", "ss") if shutil.which(tool) is None]
    if not (shutil.which("dnsmasq") or Path("/usr/sbin/dnsmasq").exists()):
        missing.append("dnsmasq")
    if missing:
        pytest.fail(f"root but {', '.join(missing)} missing: run scripts/bootstrap.sh (scripts/apt-packages.txt)")
    probe = f"tst-probe-{secrets.token_hex(2)}"
    res = _run("ip", "netns", "add", probe, check=False)
    if res.returncode != 0:
        pytest.fail(f"root but cannot create a network namespace: {res.stderr.strip()}")
    _run("ip", "netns", "del", probe, check=False)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    _netns_preflight()
    tmp = tmp_path_factory.mktemp("site")
    s = Site(secrets.token_hex(2), tmp, TestCA(tmp))
    try:
        s.build()
        s.start_services()
        yield s
    finally:
        s.teardown()


@pytest.fixture
def clean(site: Site) -> Iterator[Site]:
    site.reset()
    yield site
    site.reset()


def probes(site: Site, **over: Any) -> dict[str, Any]:
    ca = str(site.ca.ca_file)
    cfg: dict[str, Any] = {
        "ping": {"gateway": True, "count": 5, "packet_interval": 0.02, "packet_timeout": 0.5, "targets": [
            {"host": "10.203.9.1", "name": "dns-isp", "role": "isp_dns"},
            {"host": "10.203.9.8", "name": "public", "role": "public"}]},
        "dns": {"resolvers": [{"address": "10.203.9.1", "name": "isp-dns"}], "names": ["dvc.test"],
                "query_timeout": 1},
        "tcp": {"targets": [{"host": "10.203.9.10", "port": 443, "name": "portal-tcp", "role": "datacentre"}],
                "connect_timeout": 1},
        "http": {"request_timeout": 3, "targets": [
            {"name": "dvc", "url": "https://dvc.test/ok", "ca_file": ca, "fail_if_matches": MAINT},
            {"name": "dvc-ip", "url": "https://10.203.9.10/ok", "ca_file": ca}]},
        "uplink": {"links": [{"name": "VNPT", "gateways": ["10.203.1.1"]},
                             {"name": "Viettel", "gateways": ["10.203.1.254/32"]}],
                   "echo_urls": ["https://10.203.9.10/ip"], "ca_file": ca, "echo_timeout": 2},
        "traceroute": {"targets": [{"host": "10.203.9.8", "name": "public"}], "hop_timeout": 1, "ping_count": 2},
    }
    cfg.update(over)
    return cfg


def points(out: dict[str, Any], m: str, **tags: str) -> list[dict[str, Any]]:
    return [r["fields"] for r in out["results"]
            if r["measurement"] == m and all(r["tags"].get(k) == v for k, v in tags.items())]


def one(out: dict[str, Any], m: str, **tags: str) -> dict[str, Any]:
    found = points(out, m, **tags)
    assert len(found) == 1, (m, tags, out["results"])
    return found[0]


def test_healthy_site(clean: Site) -> None:
    rc, out = clean.check(probes(clean))
    assert out["verdict"]["code"] == "ok", out["verdict"]
    assert rc == 0
    gw = one(out, "ping", role="gateway")
    assert gw["result"] == "ok"
    assert gw["loss_percent"] == 0.0
    assert one(out, "ping", name="public")["received"] == 5
    assert one(out, "dns", resolver="10.203.9.1")["address"] == "10.203.9.10"
    assert one(out, "dns", resolver="system")["result"] == "ok"
    assert one(out, "tcp", name="portal-tcp")["result"] == "ok"
    dvc = one(out, "http", service="dvc")
    assert dvc["result"] == "ok"
    assert dvc["tls_chain_valid"] == 1
    up = one(out, "uplink")
    assert up["public_ip"] == "10.203.2.1"  # the router's NAT address, as the echo service saw it
    assert [r["tags"]["link"] for r in out["results"] if r["measurement"] == "uplink"] == ["VNPT"]
    assert one(out, "traceroute")["traced"] == 0


def test_second_uplink_is_recognised(clean: Site) -> None:
    clean.ns(clean.a, "ip", "route", "replace", "default", "via", "10.203.1.254")
    _, out = clean.check({"uplink": probes(clean)["uplink"]})
    assert [r["tags"]["link"] for r in out["results"] if r["measurement"] == "uplink"] == ["Viettel"]


def test_random_loss_is_measured(clean: Site) -> None:
    # 50% of echo requests leaving the site dropped at random; 60 packets -> loss within ±4 sigma
    clean.ns(clean.r, "iptables", "-A", "FORWARD", "-i", clean.dev("r0"), "-p", "icmp", "-m", "statistic",
             "--mode", "random", "--probability", "0.5", "-j", "DROP")
    cfg = probes(clean, ping={"gateway": True, "count": 60, "packet_interval": 0.01, "packet_timeout": 0.25, "targets": [
        {"host": "10.203.9.8", "name": "public", "role": "public"}]})
    del cfg["traceroute"]
    rc, out = clean.check(cfg)
    public = one(out, "ping", name="public")
    assert public["sent"] == 60
    assert 25.0 <= public["loss_percent"] <= 75.0, public
    assert one(out, "ping", role="gateway")["loss_percent"] == 0.0  # the LAN is clean
    assert out["verdict"]["code"] == "degraded", out["verdict"]
    assert rc == 1
    assert "Mất" in out["verdict"]["text"]


def test_dns_dropped(clean: Site) -> None:
    for proto in ("udp", "tcp"):
        clean.ns(clean.r, "iptables", "-A", "FORWARD", "-p", proto, "--dport", "53", "-j", "DROP")
    rc, out = clean.check(probes(clean))
    assert out["verdict"]["code"] == "dns", out["verdict"]
    assert rc == 4
    assert one(out, "dns", resolver="10.203.9.1")["result"] == "timeout"
    assert one(out, "http", service="dvc")["result"] == "dns_error"
    assert one(out, "http", service="dvc-ip")["result"] == "ok"
    assert "DNS bị lỗi" in out["verdict"]["text"]


def test_everything_dropped_beyond_router(clean: Site) -> None:
    clean.ns(clean.r, "iptables", "-A", "FORWARD", "-j", "DROP")
    rc, out = clean.check(probes(clean))
    assert out["verdict"]["code"] == "link_down", out["verdict"]
    assert rc == 5
    assert one(out, "ping", role="gateway")["result"] == "ok"
    assert one(out, "ping", name="public")["loss_percent"] == 100.0
    assert one(out, "http", service="dvc-ip")["result"] == "connect_timeout"
    assert one(out, "tcp", name="portal-tcp")["result"] == "connect_timeout"
    trace = one(out, "traceroute")
    assert trace["result"] == "stopped_first_isp_hop", trace
    assert trace["last_hop"] == "10.203.1.1"


def test_router_uplink_cable_pulled(clean: Site) -> None:
    clean.ns(clean.r, "ip", "link", "set", clean.dev("r1"), "down")
    rc, out = clean.check(probes(clean))
    assert (out["verdict"]["code"], rc) == ("link_down", 5), out["verdict"]
    assert one(out, "traceroute")["stopped_at"] == "first_isp_hop"
    assert "Đường truyền Internet của điểm cầu bị mất" in out["verdict"]["text"]


def test_pc_link_down_is_no_network(clean: Site) -> None:
    clean.ns(clean.a, "ip", "link", "set", clean.dev("a0"), "down")
    rc, out = clean.check(probes(clean))
    assert (out["verdict"]["code"], rc) == ("no_network", 6), out["verdict"]
    assert one(out, "ping", role="gateway")["result"] == "no_route"
    assert "Máy tính này không có mạng" in out["verdict"]["text"]


def test_one_portal_in_maintenance(clean: Site) -> None:
    cfg = probes(clean)
    cfg["http"]["targets"].append({"name": "qlvb", "label": "Quản lý văn bản", "url": "https://qlvb.test/maint",
                                   "ca_file": str(clean.ca.ca_file), "fail_if_matches": MAINT})
    cfg["http"]["targets"].append({"name": "tthc", "url": "https://qlvb.test/reset", "ca_file": str(clean.ca.ca_file)})
    rc, out = clean.check(cfg)
    assert (out["verdict"]["code"], rc) == ("portal", 3), out["verdict"]
    qlvb = one(out, "http", service="qlvb")
    assert (qlvb["status_code"], qlvb["result"]) == (200, "content_mismatch")
    assert one(out, "http", service="tthc")["result"] == "reset"
    assert one(out, "http", service="dvc")["result"] == "ok"
    assert "Quản lý văn bản không truy cập được" in out["verdict"]["text"]


def test_traceroute_stops_beyond_the_isp(clean: Site) -> None:
    _, out = clean.check({"traceroute": {"targets": [{"host": "10.203.99.1", "name": "dc"}], "hop_timeout": 1,
                                         "ping_count": 1, "max_hops": 6}})
    trace = one(out, "traceroute")
    assert trace["result"] == "stopped_beyond", trace
    assert trace["last_hop"] == "10.203.2.2"
    assert trace["traced"] == 1
