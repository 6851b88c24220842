"""``commune-agent simulate``: arguments and the run.

    commune-agent simulate --write-fleet sim-fleet.yaml            # the fleet, for commune-collector simulate-fleet
    commune-agent simulate --secrets sim-secrets.yaml              # live, until stopped
    commune-agent simulate --backfill 24h --secrets ...            # the past day, as fast as acks allow
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import time
from datetime import datetime
from pathlib import Path

import yaml

from agent.errors import AgentError, ConfigError
from agent.simulate.engine import Report, Simulation
from agent.simulate.fleet import Fleet, build_fleet, write_fleet
from agent.simulate.scenario import Scenario, parse_scenario
from agent.units import parse_duration

log = logging.getLogger("agent.simulate")


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


def _override(args: argparse.Namespace) -> dict[str, object]:
    out: dict[str, object] = {}
    for key in ("province", "communes", "seed"):
        if getattr(args, key) is not None:
            out[key] = getattr(args, key)
    if args.pcs_per_site is not None:
        out["pcs_per_site"] = args.pcs_per_site
    if args.interval is not None:
        out["interval"] = args.interval
    return out


def load(args: argparse.Namespace) -> tuple[Scenario, Fleet]:
    data: dict[str, object] = {}
    source = "(built-in scenario)"
    if args.scenario is not None:
        try:
            data = yaml.safe_load(args.scenario.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise ConfigError(f"{args.scenario}: cannot read: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{args.scenario}: not valid YAML: {exc}") from None
        source = str(args.scenario)
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: (top level): expected a mapping")
    sc = parse_scenario({**data, **_override(args)}, source)
    return sc, build_fleet(sc)


def read_secrets(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the simulator's secrets: {exc}") from None
    agents = doc.get("agents") if isinstance(doc, dict) else None
    if not isinstance(agents, dict):
        raise ConfigError(f"{path}: agents: expected a mapping of agent id -> password")
    return {str(k): str(v) for k, v in agents.items()}


def run(args: argparse.Namespace) -> int:
    try:
        sc, fleet = load(args)
        if args.write_fleet is not None:
            write_fleet(fleet, args.write_fleet)
            print(f"{args.write_fleet}: {len(fleet.agents)} agents on {len(fleet.sites)} sites of "
                  f"{len({s.commune for s in fleet.sites})} communes ({fleet.province_name})")
            return 0
        secrets = read_secrets(args.secrets)
        missing = [a.agent_id for a in fleet.agents if secrets and a.agent_id not in secrets]
        if missing:
            raise ConfigError(f"{args.secrets}: no password for {len(missing)} simulated agents (e.g. {missing[0]}): "
                              "run commune-collector simulate-fleet with this scenario's fleet")
        _raise_fd_limit(len(fleet.agents) + 256)
        sim = Simulation(sc, fleet, secrets, args.host, args.port, max_unacked=args.max_unacked)

        def progress(r: Report) -> None:
            log.info("%s", r.line())

        if args.backfill or args.since:
            end = time.time_ns()
            start = (round(datetime.fromisoformat(args.since).timestamp() * 1e9) if args.since
                     else end - round(parse_duration(args.backfill) * 1e9))
            report = asyncio.run(sim.backfill(start, end, on_stats=progress, stats_every=args.stats_every))
        else:
            duration = parse_duration(args.duration) if args.duration else None
            log.info("simulating %d agents on %d sites (%s), interval %gs", len(fleet.agents), len(fleet.sites),
                     fleet.province_name, sc.interval)
            with contextlib.suppress(KeyboardInterrupt):
                report = asyncio.run(sim.live(duration, on_stats=progress, stats_every=args.stats_every))
                print(report.line())
            return 0
    except (AgentError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.line())
    return 0


def _raise_fd_limit(want: int) -> None:
    """One socket per agent: raise the soft open-files limit towards the hard one."""
    with contextlib.suppress(ImportError, ValueError, OSError):
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
