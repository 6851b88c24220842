"""The options of ``commune-agent simulate``, apart from the simulator itself: building the agent's command line
must not import the simulator (start-up time and memory of ``commune-agent run``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenario", type=Path, default=None, help="scenario YAML (docs/simulator.md); default: no faults")
    p.add_argument("--host", default="127.0.0.1", help="MQTT broker host")
    p.add_argument("--port", type=int, default=1883, help="MQTT broker port")
    p.add_argument("--secrets", type=Path, default=None,
                   help="agent id -> MQTT password (written by commune-collector simulate-fleet)")
    p.add_argument("--province", type=int, default=None, help="province code (default: the scenario's, 25 Phú Thọ)")
    p.add_argument("--communes", type=int, default=None, help="only the first N communes (0: all)")
    p.add_argument("--pcs-per-site", type=int, default=None, help="office PCs per site")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--interval", default=None, help="seconds between rounds, e.g. 30s, 1m")
    p.add_argument("--write-fleet", type=Path, default=None, help="write the fleet (inventory format) and exit")
    p.add_argument("--duration", default=None, help="live: stop after this long (default: run until stopped)")
    p.add_argument("--backfill", default=None, help="backfill this much of the past (e.g. 1h, 7d) and exit")
    p.add_argument("--since", default=None, help="backfill from this ISO 8601 time (with zone) to now")
    p.add_argument("--max-unacked", type=int, default=20, help="batches in flight per agent")
    p.add_argument("--stats-every", type=float, default=60.0, help="seconds between progress lines")
