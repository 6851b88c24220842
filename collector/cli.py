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
from datetime import timedelta
from pathlib import Path

from collector import enroll_cli
from collector.config import DEFAULT_CONFIG, load_config
from collector.errors import CollectorError

COLLECTOR_EXTRA = frozenset({"aiohttp", "prometheus_client", "openpyxl", "docx", "fpdf", "grafana_client", "PIL"})
"""Top-level modules of pyproject's ``collector`` extra (the base install is the agent's)."""

log = logging.getLogger("collector")
STACK_STATE = Path(os.environ.get("CM_STATE_DIR", "state"))  # where ``python -m devstack`` keeps its configs


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="commune-collector", description="Commune Monitor collector")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="consume MQTT and write InfluxDB")
    run.add_argument("-c", "--config", type=Path, default=DEFAULT_CONFIG, help="collector config (default: %(default)s)")
    run.add_argument("--state-dir", type=Path, default=Path("state/collector"),
                     help="alert state, quarantine and other files the collector keeps (default: %(default)s)")

    val = sub.add_parser("validate", help="validate the config and fleet inventory")
    val.add_argument("-c", "--config", type=Path, default=DEFAULT_CONFIG, help="collector config (default: %(default)s)")

    st = sub.add_parser("status", help="latest reading per agent and commune, read back from InfluxDB")
    st.add_argument("-c", "--config", type=Path, default=None,
                    help="collector config (default: the local stack's, else the packaged default)")
    st.add_argument("--stale-after", type=float, default=180.0,
                    help="seconds without data before an agent is marked STALE (default: %(default)s)")

    enroll_cli.add_parsers(sub)

    bf = sub.add_parser("broker-files", help="regenerate the Mosquitto ACL (and prune passwords) from the inventory")
    bf.add_argument("--inventory", type=Path, required=True)
    bf.add_argument("--passwd", type=Path, required=True)
    bf.add_argument("--acl", type=Path, required=True)
    bf.add_argument("--collector-password-file", type=Path, default=None)
    bf.add_argument("--blocked-state", type=Path, default=None,
                    help="the collector's blocked.json: keep the agents it blocked blocked in the new ACL")
    ub = sub.add_parser("unblock", help="end the broker-side block of an agent (see `block` in the config)")
    ub.add_argument("agent")
    ub.add_argument("-c", "--config", type=Path, default=DEFAULT_CONFIG)
    ub.add_argument("--state-dir", type=Path, default=Path("state/collector"))

    sf = sub.add_parser("simulate-fleet", help="enrol a simulated fleet: inventory, broker passwords and ACL, secrets")
    sf.add_argument("--fleet", type=Path, required=True, help="written by commune-agent simulate --write-fleet")
    sf.add_argument("--inventory", type=Path, required=True)
    sf.add_argument("--passwd", type=Path, required=True)
    sf.add_argument("--acl", type=Path, required=True)
    sf.add_argument("--secrets", type=Path, required=True, help="agent id -> password, for the simulator (mode 600)")
    sf.add_argument("--collector-password-file", type=Path, default=None)

    from collector.report.command import add_arguments as report_arguments

    report_arguments(sub.add_parser("report", help="monthly infrastructure-readiness report (XLSX, DOCX, PDF, HTML)"))
    _alert_parsers(sub)
    db = sub.add_parser("dashboards", help="Grafana dashboards").add_subparsers(dest="dashboards_command",
                                                                               required=True)
    push = db.add_parser("push", help="upload the generated dashboards to Grafana (folder, overwrite)")
    push.add_argument("--url", default=os.environ.get("GRAFANA_URL", "http://127.0.0.1:3000"))
    push.add_argument("--token-file", type=Path, default=None,
                      help="file holding a Grafana service-account token (default: $GRAFANA_TOKEN)")
    push.add_argument("--dir", type=Path, default=Path("dashboards/json"), help="generated dashboards")
    push.add_argument("--folder-uid", default="commune-monitor")
    push.add_argument("--folder-title", default="Commune Monitor")

    return p


def _alert_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def with_am(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument("-c", "--config", type=Path, default=None,
                            help="collector config (default: the local stack's, else the packaged default)")
        parser.add_argument("--alertmanager", action="append", default=[], metavar="URL",
                            help="Alertmanager base URL (repeatable; default: the config's alerts.alertmanager_urls)")
        return parser

    am = sub.add_parser("alertmanager-config", help="write alertmanager.yml + templates from inventory and contacts")
    am.add_argument("-c", "--config", type=Path, default=None, help="collector config (for its inventory)")
    am.add_argument("--contacts", type=Path, required=True, help="contacts file (who gets which commune's alerts)")
    am.add_argument("--out-dir", type=Path, default=Path("alertmanager"), help="where to write (default: %(default)s)")

    mt = with_am(sub.add_parser("maintenance", help="silence a commune (or one site) for a maintenance window"))
    mt.add_argument("--commune", required=True, help="5-digit commune code, e.g. 07900")
    mt.add_argument("--site", default=None, help="only this site of the commune")
    mt.add_argument("--duration", default="2h", help="e.g. 90m, 4h (default: %(default)s)")
    mt.add_argument("--reason", default="")
    mt.add_argument("--by", default=os.environ.get("USER", "commune-collector"), help="who (default: $USER)")

    ak = with_am(sub.add_parser("ack", help="acknowledge one alert (a silence on its identifying labels)"))
    ak.add_argument("alert", nargs="*", help="alert fingerprint, or labels as name=value ...")
    ak.add_argument("--duration", default=None, help="default: the config's alerts.ack_silence")
    ak.add_argument("--comment", default="")
    ak.add_argument("--by", default=os.environ.get("USER", "commune-collector"), help="who (default: $USER)")

    sl = with_am(sub.add_parser("silences", help="list Alertmanager silences (acknowledgements, maintenance)"))
    sl.add_argument("--all", action="store_true", help="also expired and pending ones")

    za = sub.add_parser("zalo-adapter", help="run the Alertmanager webhook -> Zalo OA adapter")
    za.add_argument("--settings", type=Path, required=True, help="zalo-adapter.yaml (see docs/alerting-delivery.md)")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # the PDF report's font subsetting: a line per table
    try:
        if args.command == "run":
            return _run(args.config, args.state_dir)
        if args.command == "validate":
            cfg = load_config(args.config)
            print(f"{args.config}: ok ({len(cfg.inventory.agents)} agents in {cfg.inventory.source})")
            if cfg.file.alerts.enabled:
                from collector.alerts.rules import load_rules
                from collector.alerts.service import rules_path

                rules = load_rules(rules_path(cfg))
                print(f"{rules.source}: ok ({len(rules.rules)} alert rules)")
            return 0
        if args.command == "status":
            return _status(args.config, args.stale_after)
        if args.command in enroll_cli.COMMANDS:
            return enroll_cli.handle(args)
        if args.command == "broker-files":
            return _broker(args)
        if args.command == "simulate-fleet":
            from collector.simfleet import simulate_fleet

            pw = args.collector_password_file.read_text().strip() if args.collector_password_file else None
            n, gone = simulate_fleet(args.fleet, args.inventory, args.passwd, args.acl, args.secrets, pw)
            print(f"{args.inventory}: {n} simulated agents enrolled ({gone} stale removed); ACL {args.acl}")
            return 0
        if args.command == "unblock":
            return _unblock(args)
        if args.command == "report":
            from collector.report.command import main as report_main

            return report_main(args)
        if args.command in ("alertmanager-config", "maintenance", "ack", "silences", "zalo-adapter"):
            return _alerting(args)
        if args.command == "dashboards":
            return _dashboards_push(args)
    except CollectorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] not in COLLECTOR_EXTRA:
            raise
        print(f"error: the collector needs the collector extra (missing module {exc.name}): "
              "pip install 'commune-monitor[collector]'", file=sys.stderr)
        return 2
    return 1


def _run(config: Path, state_dir: Path) -> int:
    from collector import gc_tuning
    from collector.consume import Collector
    from collector.preflight import check_listen

    cfg = load_config(config)
    logging.getLogger().setLevel(cfg.file.log_level)
    check_listen(cfg.file.metrics_listen)
    collector = Collector(cfg, state_dir)
    gc_tuning.tune()  # start-up is done: this process is the collector (collector/gc_tuning.py)

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
    from collector.blocking import load_state

    blocked = set(load_state(args.blocked_state)) if args.blocked_state else set()
    removed = broker.broker_files(load_inventory(args.inventory), args.passwd, args.acl, password, blocked)
    print(f"ACL written to {args.acl}; removed stale users: {', '.join(removed) or 'none'}")
    return 0


def _unblock(args: argparse.Namespace) -> int:
    from collector.blocking import unblock

    cfg = load_config(args.config)
    if not unblock(cfg.file.block, cfg.inventory, args.state_dir, args.agent):
        print(f"{args.agent} is not blocked")
        return 1
    print(f"{args.agent} unblocked{'; broker ACL reloaded' if cfg.file.block.acl_file else ''}")
    return 0


def _alerting(args: argparse.Namespace) -> int:
    from collector.alerts import commands
    from collector.alerts.alertmanager import AlertmanagerError

    if args.command == "zalo-adapter":
        from collector.alerts.zalo import serve

        settings, host, port = commands.load_zalo_settings(args.settings)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(settings, host, port))
        return 0
    cfg = load_config(args.config or _default_status_config())
    if args.command == "alertmanager-config":
        path = commands.alertmanager_config(cfg, args.contacts, args.out_dir)
        print(f"wrote {path} and its templates; check it with: amtool check-config {path}")
        return 0
    urls = commands.urls_of(cfg, args.alertmanager)
    try:
        if args.command == "maintenance":
            sid = commands.maintenance(urls, args.commune, commands.parse_duration(args.duration), args.site,
                                       args.reason, args.by)
            print(f"maintenance silence {sid} for {args.commune}{'/' + args.site if args.site else ''} ({args.duration})")
        elif args.command == "ack":
            if not args.alert:
                raise CollectorError("ack: give an alert fingerprint or its labels (alertname=... commune=...)")
            fp = args.alert[0] if len(args.alert) == 1 and "=" not in args.alert[0] else None
            labels = {} if fp else commands.parse_labels(args.alert)
            duration = (commands.parse_duration(args.duration) if args.duration
                        else timedelta(seconds=cfg.file.alerts.ack_silence))
            sid, picked = commands.ack(urls, fp, labels, duration, args.by, args.comment)
            print(f"acknowledged {' '.join(f'{k}={v}' for k, v in sorted(picked.items()))}: silence {sid}")
        else:
            print(commands.render_silences(commands.list_silences(urls, args.all)))
    except AlertmanagerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    return 0


def _dashboards_push(args: argparse.Namespace) -> int:
    from collector.grafana_push import PushError, push

    if args.token_file:
        try:
            token = args.token_file.read_text().strip()
        except OSError as exc:
            raise PushError(f"{args.token_file}: cannot read: {exc.strerror or exc}") from None
    else:
        token = os.environ.get("GRAFANA_TOKEN", "")
    if not token:
        raise PushError("no Grafana token: give --token-file or set GRAFANA_TOKEN")
    result = push(args.url, token, args.dir, args.folder_uid, args.folder_title)
    print(f"folder {result.folder_uid}: {'created' if result.folder_created else 'exists'}")
    for d in result.dashboards:
        print(f"{d.get('uid')}: version {d.get('version')} {args.url.rstrip('/')}{d.get('url', '')}")
    return 0


def _default_status_config() -> Path:
    local = STACK_STATE / "stack" / "collector.yaml"
    return local if local.exists() else DEFAULT_CONFIG


def _status(config: Path | None, stale_after: float = 180.0) -> int:
    from collector.status import latest_per_agent, render

    cfg = load_config(config or _default_status_config())
    rows = asyncio.run(latest_per_agent(cfg))
    print(render(rows, cfg, time.time(), stale_after))
    return 0 if any(r.last_seen_ns is not None for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
