"""``commune-collector report`` end to end: config file -> real InfluxDB -> files on disk."""

from __future__ import annotations

import argparse
import datetime as dt
import io
from pathlib import Path

import pytest
import yaml

from collector.cli import main
from collector.report.command import add_arguments, report_month
from collector.report.period import month_before
from collector.report.progress import Progress
from tests.support import report_seed as s
from tests.support.services import Influx


def test_report_subcommand_writes_the_requested_formats(seeded: tuple[Influx, str], tmp_path: Path) -> None:
    influx, db = seeded
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump(s.FLEET), encoding="utf-8")
    cfg = tmp_path / "collector.yaml"
    cfg.write_text(yaml.safe_dump({"influx": {"url": influx.url, "database": db}, "inventory": str(fleet)}),
                   encoding="utf-8")
    holidays = tmp_path / "holidays.yaml"
    holidays.write_text("- 2026-10-20\n", encoding="utf-8")
    out = tmp_path / "reports"
    rc = main(["report", "-c", str(cfg), "--month", "2026-10", "--communes", f"{s.A},{int(s.B)}",
               "--formats", "xlsx,html", "--out", str(out), "--holidays-file", str(holidays),
               "--maintenance", s.MAINTENANCE, "--no-previous"])
    assert rc == 0
    assert sorted(p.name for p in out.iterdir()) == ["bao-cao-san-sang-2026-10.html", "bao-cao-san-sang-2026-10.xlsx"]
    page = (out / "bao-cao-san-sang-2026-10.html").read_text(encoding="utf-8")
    assert "Phường Nông Trang" in page and "Phường Thanh Miếu" not in page
    assert "9.330 phút" in page  # office minutes with the holiday and the maintenance window taken out


def test_bad_month_and_format_are_errors(seeded: tuple[Influx, str], tmp_path: Path) -> None:
    influx, db = seeded
    cfg = tmp_path / "collector.yaml"
    cfg.write_text(yaml.safe_dump({"influx": {"url": influx.url, "database": db}}), encoding="utf-8")
    assert main(["report", "-c", str(cfg), "--month", "2026-13"]) == 2


def test_progress_bar_only_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    quiet, tty = io.StringIO(), Tty()
    Progress(2, quiet).step("a")
    bar = Progress(2, tty)
    bar.step("connectivity")
    bar.step("portals")
    assert quiet.getvalue() == ""
    assert "2/2 portals" in tty.getvalue() and tty.getvalue().endswith("\n")


def _config(tmp_path: Path, influx: Influx, db: str, **extra: object) -> Path:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump(s.FLEET), encoding="utf-8")
    cfg = tmp_path / "collector.yaml"
    cfg.write_text(yaml.safe_dump({"influx": {"url": influx.url, "database": db}, "inventory": str(fleet), **extra}),
                   encoding="utf-8")
    return cfg


def test_holidays_default_to_the_alert_calendar(seeded: tuple[Influx, str], tmp_path: Path) -> None:
    """No --holidays: the report takes the holidays of the alert rules file the config names (one list for
    alerting and reporting); without alerts.rules, the shipped one (2/9 and 1/9 in September 2026)."""
    influx, db = seeded
    rules = tmp_path / "rules.yaml"
    rules.write_text("calendar:\n  holidays: [2026-10-20]\nrules: []\n", encoding="utf-8")
    cfg = _config(tmp_path, influx, db, alerts={"rules": str(rules)})
    out = tmp_path / "oct"
    assert main(["report", "-c", str(cfg), "--month", "2026-10", "--communes", s.A, "--formats", "html",
                 "--out", str(out), "--no-previous"]) == 0
    assert "9.450 phút" in (out / "bao-cao-san-sang-2026-10.html").read_text(encoding="utf-8")  # 21 x 450

    (tmp_path / "shipped").mkdir()
    shipped = _config(tmp_path / "shipped", influx, db)
    out = tmp_path / "sep"
    assert main(["report", "-c", str(shipped), "--month", "2026-09", "--communes", s.A, "--formats", "html",
                 "--out", str(out), "--no-previous"]) == 0
    assert "9.000 phút" in (out / "bao-cao-san-sang-2026-09.html").read_text(encoding="utf-8")  # (22 - 2) x 450
    # an explicit list still replaces it
    out = tmp_path / "sep-explicit"
    assert main(["report", "-c", str(shipped), "--month", "2026-09", "--communes", s.A, "--formats", "html",
                 "--out", str(out), "--no-previous", "--holidays", "2026-09-02"]) == 0
    assert "9.450 phút" in (out / "bao-cao-san-sang-2026-09.html").read_text(encoding="utf-8")


def test_previous_month_is_the_month_before_now_in_vietnam_time() -> None:
    p = argparse.ArgumentParser(exit_on_error=False)
    add_arguments(p)
    args = p.parse_args(["--previous-month"])
    # 2026-01-01 00:30 in Hà Nội is still 2025-12-31 in UTC: the month before is December, not November
    assert report_month(args, dt.datetime(2025, 12, 31, 17, 30, tzinfo=dt.UTC)) == (2025, 12)
    assert report_month(args, dt.datetime(2026, 3, 1, 0, 0, tzinfo=dt.UTC)) == (2026, 2)
    assert report_month(p.parse_args(["--month", "2026-10"])) == (2026, 10)
    for bad in (["--month", "2026-10", "--previous-month"], []):  # exactly one of them
        with pytest.raises((SystemExit, argparse.ArgumentError)):
            p.parse_args(bad)


def test_report_previous_month_runs_from_the_command_line(seeded: tuple[Influx, str], tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    influx, db = seeded
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump(s.FLEET), encoding="utf-8")
    cfg = tmp_path / "collector.yaml"
    cfg.write_text(yaml.safe_dump({"influx": {"url": influx.url, "database": db}, "inventory": str(fleet)}),
                   encoding="utf-8")
    year, month = month_before(dt.datetime.now(dt.UTC))
    out = tmp_path / "reports"
    assert main(["report", "-c", str(cfg), "--previous-month", "--formats", "html", "--out", str(out),
                 "--communes", s.A, "--no-previous"]) == 0
    assert [p.name for p in out.iterdir()] == [f"bao-cao-san-sang-{year}-{month:02d}.html"]
    assert f"report for {year}-{month:02d}: 1 file(s)" in capsys.readouterr().err
