"""commune-agent: run the agent, check everything once, or validate a config file."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from pathlib import Path

from agent.config import DEFAULT_CONFIG, load_config
from agent.errors import AgentError
from agent.memory import defer_import

log = logging.getLogger("agent")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="commune-agent", description="Commune Monitor agent")
    sub = p.add_subparsers(dest="command", required=True)
    for name, help_ in (("run", "run the agent"), ("check", "run every probe once and print a verdict"),
                        ("validate", "validate the config file and exit")):
        sp = sub.add_parser(name, help=help_)
        sp.add_argument("-c", "--config", type=Path, default=DEFAULT_CONFIG,
                        help="the agent's YAML config file (default: the shipped %(default)s)")
        if name == "run":
            sp.add_argument("--state-dir", type=Path, default=Path("state/agent"),
                            help="where the disk queue lives (default: ./%(default)s)")
        if name == "check":
            sp.add_argument("--json", action="store_true", help="machine-readable output instead of the table (default: off)")
    from agent.simulate.arguments import add_arguments as simulate_arguments

    simulate_arguments(sub.add_parser("simulate", help="simulate a whole province of agents (docs/simulator.md)"))
    return p


def main(argv: list[str] | None = None) -> int:
    defer_import("urllib.request")  # before paho-mqtt imports it (agent.memory)
    args = _parser().parse_args(argv)
    if args.command == "simulate":
        from agent.simulate.command import run as simulate

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        return simulate(args)
    try:
        cfg = load_config(args.config)
    except AgentError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=cfg.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "validate":
        print(f"{args.config}: ok ({len(cfg.probes)} probes: {', '.join(cfg.probes)})")
        return 0
    if args.command == "check":
        from agent.check import run_check

        return run_check(cfg, as_json=args.json)
    from agent.runner import Agent

    try:
        agent = Agent(cfg, args.state_dir)
    except AgentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run_until_signal(agent))
    return 0


async def _run_until_signal(agent: object) -> None:
    from agent.hostos import install_stop_handlers
    from agent.runner import Agent

    assert isinstance(agent, Agent)
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    install_stop_handlers(loop, task)  # Windows: Ctrl+C/Ctrl+Break from the service wrapper
    with contextlib.suppress(asyncio.CancelledError):
        await agent.run()
    log.info("agent stopped")


if __name__ == "__main__":
    sys.exit(main())
