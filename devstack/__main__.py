"""``python -m devstack up|down|status|wait``: the local stack (Mosquitto, InfluxDB, Alertmanager, collector, agent)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from devstack.errors import StackError
from devstack.ports import holder
from devstack.services import DEFAULT_PORTS, LocalStack

REPO = Path(__file__).resolve().parents[1]
STATE = Path(os.environ.get("CM_STATE_DIR") or REPO / "state")
"""The checkout's state/ folder wherever the command runs from (CM_STATE_DIR overrides it)."""
PORT_HELP = {"mqtt": "Mosquitto (MQTT)", "influx": "InfluxDB HTTP API", "alertmanager": "Alertmanager web/API",
             "smtp": "the SMTP sink that stores alert mails"}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m devstack",
                                description="the local stack (Mosquitto, InfluxDB, SMTP sink, Alertmanager, collector, agent)",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("action", choices=["up", "down", "status", "wait"],
                   help="up: start what is not running; down: stop it; status: which services run; "
                        "wait: until every probe of the local agent has a reading newer than --since")
    p.add_argument("--state-dir", type=Path, default=STATE,
                   help="data, configs, logs and pid files of this stack (relative paths: to the current folder)")
    p.add_argument("--agent-config", type=Path, default=None,
                   help="agent config for the local agent (default: the shipped agent/defaults/agent.yaml)")
    for name in ("mqtt", "influx", "alertmanager", "smtp"):
        p.add_argument(f"--{name}-port", type=int, default=DEFAULT_PORTS[name], metavar="PORT",
                       help=f"127.0.0.1 port of {PORT_HELP[name]}")
    p.add_argument("--since", type=float, default=None, metavar="UNIX_TIME",
                   help="wait: readings must be newer than this (default: now)")
    p.add_argument("--timeout", type=float, default=120.0, help="wait: give up after this many seconds")
    p.add_argument("--simulate-pcs", type=int, default=None, metavar="N",
                   help="up: also simulate the whole province, N office PCs per site (docs/simulator.md)")
    p.add_argument("--scenario", type=Path, default=None, help="simulator scenario (default: examples/scenarios/phutho-demo.yaml)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    ports = dict(DEFAULT_PORTS)
    for name in ("mqtt", "influx", "alertmanager", "smtp"):
        ports[name] = getattr(args, f"{name}_port")
    stack = LocalStack(args.state_dir.resolve(), ports, args.agent_config)
    try:
        if args.action == "up":
            if args.simulate_pcs is not None:
                from devstack.simulator import configure

                stack.write_configs()  # the inventory with the local agent, then the simulated agents join it
                n = configure(stack.state / "stack", args.simulate_pcs, args.scenario)
                print(f"simulator     {n} simulated agents enrolled in {stack.state / 'stack' / 'fleet.yaml'}")
            stack.up()
            print(f"MQTT 127.0.0.1:{ports['mqtt']}  InfluxDB http://127.0.0.1:{ports['influx']}  "
                  f"Alertmanager http://127.0.0.1:{ports['alertmanager']}  "
                  f"collector metrics http://127.0.0.1:{ports['collector_metrics']}/metrics")
            print(f"alert mails (SMTP sink 127.0.0.1:{ports['smtp']}) are stored in {stack.state / 'mail'}/")
        elif args.action == "down":
            stack.down()
            return _others(stack)
        elif args.action == "wait":
            from devstack.fresh import wait_fresh

            missing = wait_fresh(stack.state / "stack", args.since if args.since is not None else time.time(),
                                 args.timeout)
            if missing:
                print(f"no fresh reading after {args.timeout:.0f}s from: {', '.join(missing)} "
                      f"(see {stack.state / 'agent' / 'agent.log'})", file=sys.stderr)
                return 1
        else:
            status = stack.status()
            for name, pid in status:
                print(f"{name:13} {f'running (pid {pid})' if pid else 'stopped'}")
            others = _others(stack)
            return 0 if all(pid is not None for _, pid in status) else (others or 3)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _others(stack: LocalStack) -> int:
    """After down / in status: the stack's ports that a process not of this state folder holds (another stack,
    or this one started from another state folder). 0 if none, else 4, and each is named."""
    held = [(svc.name, h) for svc in stack.services() if svc.pid() is None
            for h in (holder(p) for p in svc.ports) if h is not None]
    for name, h in held:
        print(f"{name:13} not started from {stack.state}, but {h.describe()}: is another stack running?",
              file=sys.stderr)
    return 4 if held else 0


if __name__ == "__main__":
    sys.exit(main())
