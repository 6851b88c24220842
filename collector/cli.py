"""commune-collector: run the collector, validate its config, show what is reporting, enroll agents and
write the broker's files. (The local dev stack is ``python -m devstack``, not part of the product.)"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from pathlib import Path

from collector import enroll_cli
from collector.config import DEFAULT_CONFIG, load_config
from collector.errors import CollectorError

log = logging.getLogger("collector")
STACK_STATE = Path(os.environ.get("CM_STATE_DIR", "state"))  # where ``python -m devstack`` keeps its configs


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="commune-collector", description="Commune Monitor collector")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="consume MQTT and write InfluxDB")
    run.add_argument("-c", "--config", type=Path, default=DEFAULT_CONFIG)
    run.add_argument("--state-dir", type=Path, default=Path("state/collector"))

    val = sub.add_parser("validate", help="validate the config and fleet inventory")
    val.add_argument("-c", "--config", type=Path, default=DEFAULT_CONFIG)

    st = sub.add_parser("status", help="latest reading per agent and commune, read back from InfluxDB")
    st.add_argument("-c", "--config", type=Path, default=None,
                    help="collector config (default: the local stack's, else the packaged default)")

    enroll_cli.add_parsers(sub)

    bf = sub.add_parser("broker-files", help="regenerate the Mosquitto ACL (and prune passwords) from the inventory")
    bf.add_argument("--inventory", type=Path, required=True)
    bf.add_argument("--passwd", type=Path, required=True)
    bf.add_argument("--acl", type=Path, required=True)
    bf.add_argument("--collector-password-file", type=Path, default=None)

    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "run":
            return _run(args.config, args.state_dir)
        if args.command == "validate":
            cfg = load_config(args.config)
            print(f"{args.config}: ok ({len(cfg.inventory.agents)} agents in {cfg.inventory.source})")
            return 0
        if args.command == "status":
            return _status(args.config)
        if args.command in enroll_cli.COMMANDS:
            return enroll_cli.handle(args)
        if args.command == "broker-files":
            return _broker(args)
    except CollectorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 1


def _run(config: Path, state_dir: Path) -> int:
    from collector.consume import Collector

    cfg = load_config(config)
    logging.getLogger().setLevel(cfg.file.log_level)
    collector = Collector(cfg, state_dir)

    async def main_task() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await collector.run()

    asyncio.run(main_task())
    log.info("collector stopped")
    return 0


def _broker(args: argparse.Namespace) -> int:
    from collector import broker
    from collector.config import load_inventory

    password = args.collector_password_file.read_text().strip() if args.collector_password_file else None
    removed = broker.broker_files(load_inventory(args.inventory), args.passwd, args.acl, password)
    print(f"ACL written to {args.acl}; removed stale users: {', '.join(removed) or 'none'}")
    return 0


def _default_status_config() -> Path:
    local = STACK_STATE / "stack" / "collector.yaml"
    return local if local.exists() else DEFAULT_CONFIG


def _status(config: Path | None) -> int:
    from collector.status import latest_per_agent, render

    cfg = load_config(config or _default_status_config())
    rows = asyncio.run(latest_per_agent(cfg))
    print(render(rows, cfg, time.time()))
    return 0 if any(r.last_seen_ns is not None for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
