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
from common.yaml_file import read_yaml

log = logging.getLogger("agent.simulate")


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
        data = read_yaml(args.scenario, ConfigError) or {}
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
