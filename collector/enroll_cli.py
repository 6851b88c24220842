"""The enrolment and deployment subcommands of ``commune-collector``: communes, enroll, enroll-bulk,
ansible-inventory, broker-conf. Kept apart from cli.py so that file stays the short list of commands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from collector.errors import ConfigError

COMMANDS = ("communes", "enroll", "enroll-bulk", "ansible-inventory", "broker-conf")


def _enrol_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--inventory", type=Path, required=True, help="fleet inventory (YAML)")
    p.add_argument("--new-inventory", action="store_true", help="start the inventory if it does not exist yet")
    p.add_argument("--passwd", type=Path, required=True, help="Mosquitto password file")
    p.add_argument("--acl", type=Path, help="Mosquitto ACL file to regenerate (default: none, the ACL is left alone)")
    p.add_argument("--out-dir", type=Path, default=Path("enrolled"),
                   help="one bundle folder per PC goes here (default: %(default)s)")
    p.add_argument("--mqtt-host", required=True, help="the broker's name as the PCs reach it")
    p.add_argument("--mqtt-port", type=int, default=8883,
                   help="the broker's TLS port as the PCs reach it (default: %(default)s)")
    p.add_argument("--ca-file", type=Path, default=None,
                   help="CA certificate of the broker (copied into each bundle); default: the PC's system CAs")
    p.add_argument("--rotate-password", action="store_true", help="re-enrolling: issue a new password")
    p.add_argument("--move", action="store_true", help="re-enrolling: change the commune/site (password kept)")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    co = sub.add_parser("communes", help="list or search commune codes and names (diacritics optional)")
    co.add_argument("query", nargs="?", default="", help='a code (8542) or words of the name ("viet tri")')

    en = sub.add_parser("enroll", help="add one agent: inventory entry, broker password, a bundle for its PC")
    en.add_argument("agent_id", help="the new agent's id (also its MQTT username), e.g. pc-viettri-motcua-01")
    en.add_argument("--commune", required=True, help="official commune/ward code, e.g. 07900 (see `communes`)")
    en.add_argument("--site", default="main", help="the office location within the commune (default: %(default)s)")
    en.add_argument("--name", default="", help="the PC's name, e.g. 'Máy một cửa 1' (default: none)")
    en.add_argument("--role", choices=["pc", "gateway"], default="pc", help="gateway: the site's always-on monitor, alerted at any hour (default: %(default)s)")
    en.add_argument("--isp", default="", help="the site's ISP, e.g. vnpt (ISP outage correlation; default: none)")
    _enrol_options(en)

    eb = sub.add_parser("enroll-bulk", help="enroll every PC of a CSV/XLSX sheet, all or nothing")
    eb.add_argument("sheet", type=Path, help="columns: commune, site, name (PC name), role, optional id")
    _enrol_options(eb)

    ai = sub.add_parser("ansible-inventory", help="write an Ansible inventory (by commune and site) of the agents")
    ai.add_argument("--inventory", type=Path, required=True, help="fleet inventory (YAML)")
    ai.add_argument("-o", "--out", type=Path, default=None, help="output file (default: stdout)")

    bc = sub.add_parser("broker-conf", help="print the Mosquitto listener config (TLS, passwords, ACL)")
    bc.add_argument("--port", type=int, default=8883)
    bc.add_argument("--bind", default="0.0.0.0")
    bc.add_argument("--passwd", type=Path, required=True)
    bc.add_argument("--acl", type=Path, required=True)
    bc.add_argument("--cafile", type=Path)
    bc.add_argument("--certfile", type=Path)
    bc.add_argument("--keyfile", type=Path)
    bc.add_argument("--require-client-cert", action="store_true")
    bc.add_argument("--max-connections", type=int, default=-1, help="per listener: the fleet size plus a margin")
    bc.add_argument("--max-message-kib", type=int, default=512, help="broker-wide payload limit (default: the wire's)")
    bc.add_argument("--max-queued-messages", type=int, default=100_000, help="per session (the collector's backlog)")


def handle(args: argparse.Namespace) -> int:
    if args.command == "communes":
        from collector.communes_search import render, search

        rows = search(args.query)
        sys.stdout.write(render(rows))
        if not rows:
            print(f"no commune matches {args.query!r}", file=sys.stderr)
        return 0 if rows else 1
    if args.command == "ansible-inventory":
        from collector import ansible_inventory
        from collector.config import load_inventory

        text = ansible_inventory.render(load_inventory(args.inventory))
        if args.out is None:
            sys.stdout.write(text)
        else:
            args.out.write_text(text, encoding="utf-8")
            print(f"Ansible inventory written to {args.out}")
        return 0
    if args.command == "broker-conf":
        from collector.broker import limits_conf, listener_conf

        if bool(args.certfile) != bool(args.keyfile):
            raise ConfigError("give both --certfile and --keyfile (or neither, for a plain listener)")
        sys.stdout.write(listener_conf(args.port, args.passwd, args.acl, args.cafile, args.certfile, args.keyfile,
                                       args.require_client_cert, args.bind, args.max_connections))
        sys.stdout.write(limits_conf(args.max_message_kib * 1024, max_queued_messages=args.max_queued_messages))
        return 0
    return _enroll(args)


def _enroll(args: argparse.Namespace) -> int:
    from collector import broker, enroll
    from collector.config import load_inventory

    problems: list[str] = []
    if args.command == "enroll":
        requests = [enroll.Request(args.agent_id, args.commune, args.site, args.name, args.role, isp=args.isp)]
    else:
        from collector.enroll_sheet import read_sheet

        requests, problems = read_sheet(args.sheet)
    bundles = enroll.enroll(requests, args.inventory, args.passwd, args.out_dir,
                            enroll.Broker(args.mqtt_host, args.mqtt_port, args.ca_file),
                            rotate_password=args.rotate_password, move=args.move,
                            create_inventory=args.new_inventory, problems=problems)
    for b in bundles:
        kept = "" if b.password else " (password unchanged)"
        print(f"enrolled {b.agent_id}: bundle {b.directory}{kept}")
    if args.acl:
        broker.broker_files(load_inventory(args.inventory), args.passwd, args.acl)
        print(f"ACL regenerated: {args.acl}")
    print(f"{len(bundles)} enrolled; copy each bundle folder to its PC. "
          "Reload the broker to apply: kill -HUP <mosquitto pid>; restart the collector for the inventory.")
    return 0
