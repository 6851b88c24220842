"""Benchmark (not a test): the ping probe (icmplib) against iputils ``ping`` on the same link.

Builds two network namespaces joined by a veth pair (pingb-…), optionally drops a share of the echo
requests at random with iptables, then runs ``ping`` and the probe in turn from one side, N rounds each,
and prints loss and RTT figures of both. Needs root. Run: ``python -m bench.ping_vs_ping [--loss 0.2]``.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import statistics
import subprocess
import sys

INNER = """
import asyncio, json
from agent.probes.base import ProbeContext
from agent.probes.ping import PingConfig, PingProbe, PingTarget
cfg = PingConfig(targets=[PingTarget(host="10.203.77.2")], count={count}, packet_interval=0.01,
                 packet_timeout=0.5, gateway=False)
[p] = asyncio.run(PingProbe(cfg, ProbeContext(agent_id="b")).collect())
print(json.dumps(p.f))
"""


def sh(*cmd: str) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120).stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--loss", type=float, default=0.2)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    tag = secrets.token_hex(2)
    x, y = f"pingb-{tag}-x", f"pingb-{tag}-y"
    vx, vy = f"pingb{tag}x", f"pingb{tag}y"
    try:
        sh("ip", "netns", "add", x)
        sh("ip", "netns", "add", y)
        sh("ip", "link", "add", vx, "type", "veth", "peer", "name", vy)
        sh("ip", "link", "set", vx, "netns", x)
        sh("ip", "link", "set", vy, "netns", y)
        sh("ip", "netns", "exec", x, "ip", "addr", "add", "10.203.77.1/24", "dev", vx)
        sh("ip", "netns", "exec", y, "ip", "addr", "add", "10.203.77.2/24", "dev", vy)
        for ns, dev in ((x, vx), (y, vy)):
            sh("ip", "netns", "exec", ns, "ip", "link", "set", dev, "up")
            sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        if args.loss:
            sh("ip", "netns", "exec", y, "iptables", "-A", "INPUT", "-p", "icmp", "-m", "statistic", "--mode",
               "random", "--probability", str(args.loss), "-j", "DROP")
        print(f"{'round':6}{'tool':8}{'loss %':>8}{'min':>8}{'avg':>8}{'max':>8}{'mdev/jit':>10}  (ms, {args.count} packets)")
        ours_loss, theirs_loss, ours_avg, theirs_avg = [], [], [], []
        for r in range(args.rounds):
            out = sh("ip", "netns", "exec", x, "ping", "-q", "-n", "-c", str(args.count), "-i", "0.01", "-W", "0.5",
                     "10.203.77.2")
            loss = float(re.search(r"([\d.]+)% packet loss", out).group(1))  # type: ignore[union-attr]
            m = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms", out)
            mn, avg, mx, mdev = (float(v) for v in m.groups()) if m else (0.0,) * 4
            print(f"{r:<6}{'ping':8}{loss:8.1f}{mn:8.3f}{avg:8.3f}{mx:8.3f}{mdev:10.3f}")
            theirs_loss.append(loss)
            theirs_avg.append(avg)
            f = json.loads(sh("ip", "netns", "exec", x, sys.executable, "-c", INNER.format(count=args.count)))
            print(f"{r:<6}{'probe':8}{f['loss_percent']:8.1f}{f.get('rtt_min_ms', 0):8.3f}{f.get('rtt_avg_ms', 0):8.3f}"
                  f"{f.get('rtt_max_ms', 0):8.3f}{f.get('jitter_ms', 0):10.3f}  median {f.get('rtt_median_ms', 0):.3f}")
            ours_loss.append(f["loss_percent"])
            ours_avg.append(f.get("rtt_avg_ms", 0.0))
        print(f"mean loss: ping {statistics.fmean(theirs_loss):.1f}%  probe {statistics.fmean(ours_loss):.1f}%  "
              f"(configured {args.loss * 100:.0f}%)")
        print(f"median avg RTT: ping {statistics.median(theirs_avg):.3f} ms  probe {statistics.median(ours_avg):.3f} ms")
    finally:
        subprocess.run(["ip", "netns", "del", x], check=False)
        subprocess.run(["ip", "netns", "del", y], check=False)


if __name__ == "__main__":
    main()
