"""``python -m devstack up|down|status``: the local stack (Mosquitto, InfluxDB, Alertmanager, collector, agent)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from devstack.errors import StackError
from devstack.services import DEFAULT_PORTS, LocalStack

STATE = Path(os.environ.get("CM_STATE_DIR", "state"))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m devstack",
                                description="the local stack (Mosquitto, InfluxDB, SMTP sink, Alertmanager, collector, agent)")
    p.add_argument("action", choices=["up", "down", "status"])
    p.add_argument("--state-dir", type=Path, default=STATE)
    p.add_argument("--agent-config", type=Path, default=None, help="agent config for the local agent")
    for name in ("mqtt", "influx", "alertmanager", "smtp"):
        p.add_argument(f"--{name}-port", type=int, default=None)
    p.add_argument("--simulate-pcs", type=int, default=None, metavar="N",
                   help="up: also simulate the whole province, N office PCs per site (docs/simulator.md)")
    p.add_argument("--scenario", type=Path, default=None, help="simulator scenario (default: examples/scenarios/phutho-demo.yaml)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    ports = dict(DEFAULT_PORTS)
    for name in ("mqtt", "influx", "alertmanager", "smtp"):
        value = getattr(args, f"{name}_port")
        if value:
            ports[name] = value
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
        else:
            status = stack.status()
            for name, pid in status:
                print(f"{name:13} {f'running (pid {pid})' if pid else 'stopped'}")
            return 0 if all(pid is not None for _, pid in status) else 3
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
