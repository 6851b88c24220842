"""dns probe against real local servers: dnsmasq on 127.0.0.1, a silent UDP socket, the system resolver."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.probes.base import ProbeContext
from agent.probes.dns import DnsConfig, DnsProbe, Resolver
from tests.support.schema import conforming
from tests.support.services import need_binary

CTX = ProbeContext(agent_id="t")


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def dnsmasq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    exe = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    if not Path(exe).exists():
        need_binary("dnsmasq")  # fails where apt-get could have installed it
    port = free_port()
    d = tmp_path_factory.mktemp("dnsmasq")
    proc = subprocess.Popen([
        exe, "--keep-in-foreground", "--conf-file=/dev/null", f"--port={port}", "--listen-address=127.0.0.1",
        "--bind-interfaces", "--no-resolv", "--no-hosts", f"--pid-file={d / 'pid'}", "--user=root",
        "--address=/dvc.test/10.203.9.10", "--address=/nx.test/",
    ], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:  # ready when it answers
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(0.2)
                from agent.net.dnswire import build_query

                s.sendto(build_query("dvc.test", 1, 7), ("127.0.0.1", port))
                try:
                    s.recv(512)
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"dnsmasq did not start: {proc.stderr.read() if proc.stderr else ''!r}") from None
        yield port
    finally:
        proc.terminate()
        proc.wait(5)


async def test_dns_resolver_answers_and_nxdomain(dnsmasq: int) -> None:
    probe = DnsProbe(DnsConfig(resolvers=[Resolver(address="127.0.0.1", port=dnsmasq, name="isp", role="isp")],
                               names=["dvc.test", "www.nx.test"], system=False), CTX)
    points = {p.tg["query"]: p for p in conforming(await probe.collect())}
    ok = points["dvc.test"]
    assert ok.f["result"] == "ok", ok.f
    assert ok.f["address"] == "10.203.9.10"
    assert ok.f["answers"] == 1
    assert float(ok.f["lookup_ms"]) > 0.0
    nx = points["www.nx.test"]
    assert nx.f["result"] == "nxdomain"
    assert nx.f["ok"] == 0


async def test_dns_silent_resolver_times_out() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never answers
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        probe = DnsProbe(DnsConfig(resolvers=[Resolver(address="127.0.0.1", port=port)], names=["dvc.test"],
                                   system=False, query_timeout=0.3), CTX)  # type: ignore[arg-type]
        [pt] = conforming(await probe.collect())
    assert pt.f["result"] == "timeout", pt.f
    line = DnsProbe.check_lines([pt])[0]
    assert line.status == "fail"
    assert "không trả lời" in line.text


async def test_dns_system_resolver_localhost() -> None:
    probe = DnsProbe(DnsConfig(names=["localhost"], system=True), CTX)
    [pt] = conforming(await probe.collect())
    assert pt.tg["resolver"] == "system"
    assert pt.f["result"] == "ok"
    assert pt.f["address"] == "127.0.0.1"
