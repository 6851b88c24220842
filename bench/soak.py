"""Outage soak (not a test): several agents under load while the broker, InfluxDB and the collector go away
in turn. Prints points produced, stored, lost, and batches sent more than once.

    python -m bench.soak [--agents 10] [--rounds 600] [--points 49] [--outage 30]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from devstack import services as stack
from tests.support.fleet import Fleet, assert_complete_and_ordered
from tests.support.services import start_influx, start_mosquitto, wait_for


def _total_stat(log: Path, key: str) -> int:
    """A counter summed over every collector process that wrote to this log (it restarts from 0)."""
    total, current = 0, 0
    for line in log.read_text(errors="replace").splitlines():
        if "stats:" in line:
            for part in line.split():
                if part.startswith(key + "="):
                    value = int(part.split("=", 1)[1])
                    if value < current:
                        total += current
                    current = value
    return total + current


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=600)
    ap.add_argument("--points", type=int, default=49)
    ap.add_argument("--interval", default="200ms")
    ap.add_argument("--outage", type=float, default=30.0, help="seconds each outage lasts")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="cm-soak-"))
    broker, port = start_mosquitto(root / "mosquitto")
    influx = start_influx(root / "influx")
    influx.create("soak")
    fleet = Fleet(root / "fleet", port, influx, "soak")
    codes = ["07900", "08740", "05089", "08749"]
    try:
        for i in range(args.agents):
            fleet.add_agent(f"soak-{i:02d}", codes[i % len(codes)], rounds=args.rounds, points_per_round=args.points,
                            interval=args.interval, queue={"ack_timeout": "5s"})
        fleet.start_collector()
        for a in fleet.agents.values():
            a.start()
        t0 = time.monotonic()
        events = []

        def outage(name: str, svc: stack.Service, kill: bool = False) -> None:
            time.sleep(5)
            (svc.kill if kill else svc.stop)()
            events.append(f"{time.monotonic() - t0:6.1f}s {name} down")
            time.sleep(args.outage if not kill else 5)
            svc.start()
            events.append(f"{time.monotonic() - t0:6.1f}s {name} back")

        outage("broker", broker)
        outage("influxdb", influx.service)
        assert fleet.collector is not None
        outage("collector (SIGKILL)", fleet.collector, kill=True)
        expected = args.agents * args.rounds * args.points
        wait_for(lambda: fleet.stored_count() >= expected, 900, 1.0, what="all points")
        elapsed = time.monotonic() - t0
        stored = assert_complete_and_ordered(fleet.stored())
        resent = 0
        for a in fleet.agents.values():
            log = (a.workdir / f"{a.name}.log").read_text()
            resent += log.count("sending them again")
        time.sleep(2)  # let the collector's last stats line land (figures only, not a test)
        written = _total_stat(fleet.root / "collector" / "collector.log", "points_written")
        distinct = sum(max(v for v in s["values"][0][1:] if v is not None)
                       for s in influx.query('SELECT count(*) FROM /.*/', "soak"))
        print("\n".join(events))
        print(f"agents {args.agents}, points produced {expected}, stored {stored}, lost {expected - stored}, "
              f"in {elapsed:.0f}s; resend rounds logged by agents: {resent}")
        print(f"collectors wrote {written} points (as of their last stats line) for {distinct} distinct points stored"
              f" (all measurements): about {max(0, written - distinct)} duplicate writes")
    finally:
        fleet.stop()
        influx.service.stop()
        broker.stop()


if __name__ == "__main__":
    main()
