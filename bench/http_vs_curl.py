"""Benchmark (not a test): the http probe's phases against ``curl -w`` on the same requests.

A local HTTPS server (tests/support/portal.py, test CA) answers /slow/200 after 200 ms. Requests alternate
between curl and the probe; the medians of each phase and their differences are printed.
Run: ``python -m bench.http_vs_curl [-n 30]`` (needs curl).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agent.probes.base import ProbeContext
from agent.probes.http import HttpConfig, HttpProbe, HttpTarget
from tests.support.pki import TestCA

PHASES = ("dns", "connect", "tls", "first_byte", "total")
CURL_FMT = "%{time_namelookup} %{time_connect} %{time_appconnect} %{time_starttransfer} %{time_total}"


def curl_once(url: str, ca: Path) -> dict[str, float]:
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "--cacert", str(ca), "-w", CURL_FMT, url],
                         capture_output=True, text=True, check=True, timeout=30).stdout.split()
    dns, conn, app, start, total = (float(x) * 1000 for x in out)
    tls = app - conn if app else 0.0
    return {"dns": dns, "connect": conn - dns, "tls": tls, "first_byte": start, "total": total}


async def probe_once(probe: HttpProbe) -> dict[str, float]:
    [p] = await probe.collect()
    assert p.f["result"] == "ok", p.f
    f = {k: float(v) for k, v in p.f.items() if isinstance(v, int | float)}
    return {"dns": f["dns_ms"], "connect": f["connect_ms"], "tls": f["tls_ms"],
            "first_byte": f["first_byte_ms"], "total": f["total_ms"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("--plain", action="store_true", help="plain HTTP instead of HTTPS")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="httpbench-"))
    ca = TestCA(tmp)
    leaf = ca.issue("bench", ["127.0.0.1", "localhost"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ready = tmp / "ready"
    cmd = [sys.executable, "-m", "tests.support.portal", "--bind", "127.0.0.1", "--port", str(port), "--ready", str(ready)]
    if not args.plain:
        cmd += ["--cert", str(leaf.cert), "--key", str(leaf.key)]
    server = subprocess.Popen(cmd)
    try:
        deadline = time.monotonic() + 10
        while not ready.exists():
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("server did not start")
            time.sleep(0.05)
        url = f"{'http' if args.plain else 'https'}://127.0.0.1:{port}/slow/200"
        probe = HttpProbe(HttpConfig(targets=[HttpTarget(name="bench", url=url, ca_file=str(ca.ca_file))]),
                          ProbeContext(agent_id="bench"))
        ours: list[dict[str, float]] = []
        theirs: list[dict[str, float]] = []
        curl_once(url, ca.ca_file)  # warm-up (page cache, imports)
        asyncio.run(probe_once(probe))
        for _ in range(args.n):
            theirs.append(curl_once(url, ca.ca_file))
            ours.append(asyncio.run(probe_once(probe)))
    finally:
        server.terminate()
        server.wait(5)
    print(f"{'phase':12}{'curl ms':>10}{'probe ms':>10}{'diff ms':>10}   (medians of {args.n}, {url})")
    for ph in PHASES:
        c = statistics.median(r[ph] for r in theirs)
        o = statistics.median(r[ph] for r in ours)
        print(f"{ph:12}{c:10.2f}{o:10.2f}{o - c:+10.2f}")


if __name__ == "__main__":
    main()
