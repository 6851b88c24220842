"""``commune-collector report``: its arguments, and running it from the command line."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from collector.report.collect import commune_codes
from collector.report.mail import SmtpSettings
from collector.report.official import Issuer
from collector.report.period import OfficeHours, month_before, parse_month, parse_window

if TYPE_CHECKING:
    from collector.report.run import ReportJob

FORMATS = ("xlsx", "docx", "pdf", "html")  # the writers (openpyxl, python-docx, fpdf2) load only when a report runs


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", type=Path, default=None, help="collector config (InfluxDB, inventory)")
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--month", help="YYYY-MM (Vietnam time)")
    when.add_argument("--previous-month", action="store_true",
                      help="the month before the current one, Vietnam time (for the monthly timer)")
    p.add_argument("--province", type=int, default=25, help="province code (default 25, Phú Thọ)")
    p.add_argument("--communes", default="", help="comma-separated commune codes (default: all of the province)")
    p.add_argument("--formats", default=",".join(FORMATS), help=f"comma-separated, from {','.join(FORMATS)}")
    p.add_argument("--out", type=Path, default=Path("reports"), help="output folder")
    p.add_argument("--holidays", default="", help="comma-separated YYYY-MM-DD public holidays (no office hours; "
                   "default: the alert calendar's calendar.holidays)")
    p.add_argument("--holidays-file", type=Path, default=None, help="YAML list of YYYY-MM-DD holidays")
    p.add_argument("--maintenance", action="append", default=[],
                   help="START/END maintenance window, ISO, Vietnam time unless an offset is given (repeatable)")
    p.add_argument("--no-previous", action="store_true", help="do not compute last month (no change column)")
    p.add_argument("--issuer-body", default=Issuer.body)
    p.add_argument("--issuer-parent", default=Issuer.parent)
    p.add_argument("--signer", default="", help="name in the signature block")
    p.add_argument("--mail-to", default="", help="comma-separated addresses to send the files to")
    p.add_argument("--smtp-host", default="127.0.0.1")
    p.add_argument("--smtp-port", type=int, default=25)
    p.add_argument("--smtp-user", default="")
    p.add_argument("--smtp-password-env", default="CM_SMTP_PASSWORD", help="environment variable with the password")
    p.add_argument("--smtp-security", choices=("none", "starttls", "tls"), default="none")
    p.add_argument("--mail-from", default="commune-monitor@localhost")


def _holidays(args: argparse.Namespace, default: frozenset[dt.date] = frozenset()) -> frozenset[dt.date]:
    """``--holidays`` and ``--holidays-file``; neither given: ``default`` (the alert calendar's list)."""
    days = [x.strip() for x in args.holidays.split(",") if x.strip()]
    if args.holidays_file:
        days += [str(x) for x in (yaml.safe_load(args.holidays_file.read_text(encoding="utf-8")) or [])]
    if not args.holidays.strip() and args.holidays_file is None:
        return default
    return frozenset(dt.date.fromisoformat(x) for x in days)


def report_month(args: argparse.Namespace, now: dt.datetime | None = None) -> tuple[int, int]:
    """``--month YYYY-MM``, or with ``--previous-month`` the month before ``now`` (default: the clock)."""
    if args.previous_month:
        return month_before(now or dt.datetime.now(dt.UTC))
    return parse_month(args.month)


def job_from_args(args: argparse.Namespace, database: str, inventory: object,
                  default_holidays: frozenset[dt.date] = frozenset(), now: dt.datetime | None = None) -> ReportJob:
    from collector.config import Inventory
    from collector.report.run import ReportJob

    assert isinstance(inventory, Inventory)
    year, month = report_month(args, now)
    office = OfficeHours(holidays=_holidays(args, default_holidays),
                         maintenance=tuple(parse_window(w) for w in args.maintenance))
    return ReportJob(
        year, month, database, inventory, args.province, commune_codes(args.communes),
        tuple(f.strip() for f in args.formats.split(",") if f.strip()), args.out, office,
        Issuer(parent=args.issuer_parent, body=args.issuer_body, signer_name=args.signer),
        [a.strip() for a in args.mail_to.split(",") if a.strip()],
        SmtpSettings(args.smtp_host, args.smtp_port, args.mail_from, args.smtp_user,
                     os.environ.get(args.smtp_password_env, ""), args.smtp_security),
        not args.no_previous)


def main(args: argparse.Namespace) -> int:
    from collector.config import DEFAULT_CONFIG, load_config
    from collector.errors import ConfigError
    from collector.influx import make_influx_client
    from collector.report.holidays import alert_calendar_holidays
    from collector.report.run import produce

    cfg = load_config(args.config or DEFAULT_CONFIG)
    try:
        job = job_from_args(args, cfg.influx.database, cfg.inventory, alert_calendar_holidays(cfg))
    except (ValueError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def go() -> list[Path]:
        client = make_influx_client(cfg.influx)
        try:
            _, files = await produce(client, job, None)
        finally:
            await client.close()
        return files

    started = dt.datetime.now()
    files = asyncio.run(go())
    for f in files:
        print(f)
    print(f"report for {job.year}-{job.month:02d}: {len(files)} file(s) in {(dt.datetime.now() - started).total_seconds():.1f} s",
          file=sys.stderr)
    return 0

