#!/usr/bin/env python3
"""Measure one snmp-probe poll of a 48-port switch (snmpsim serving the cisco-c3560 recording: 57 interfaces,
48 access ports + uplinks + VLANs) on loopback. Usage: .venv/bin/python scripts/bench-snmp-poll.py [ROUNDS]"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import msgspec

from agent.probes.base import ProbeContext
from agent.probes.snmp import SnmpConfig, SnmpProbe
from agent.units import dec_hook
from tests.support import snmp_env


async def bench(port: int, rounds: int, varbinds: int) -> None:
    cfg = msgspec.convert({"bulk_varbinds": varbinds, "devices": [
        {"name": "sw48", "host": "127.0.0.1", "port": port, "community": "cisco-c3560", "uplink": "Gi0/49"}]},
        SnmpConfig, dec_hook=dec_hook)
    probe = SnmpProbe(cfg, ProbeContext(agent_id="bench"))
    times, reqs, npoints = [], 0, 0
    for _ in range(rounds):
        t = time.perf_counter()
        points = await probe.collect()
        times.append((time.perf_counter() - t) * 1000)
        dev = next(p for p in points if p.m == "snmp_device")
        assert dev.f["result"] == "ok", dev.f
        reqs, npoints = int(dev.f["requests"]), len(points)
    await probe.close()
    print(f"bulk_varbinds={varbinds:4d}: {rounds} polls, {npoints} points, {reqs} requests/poll, "
          f"median {statistics.median(times):.0f} ms, min {min(times):.0f} ms, max {max(times):.0f} ms "
          f"(first poll {times[0]:.0f} ms)")


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    venv = snmp_env.snmpsim_venv()
    with snmp_env.run_snmpsim({"cisco-c3560": snmp_env.recording(venv, "network/switch/cisco-c3560")}) as agent:
        for varbinds in (16, 64, 256):
            asyncio.run(bench(agent.port, rounds, varbinds))


if __name__ == "__main__":
    main()
