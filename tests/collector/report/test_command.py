"""``commune-collector report`` end to end: config file -> real InfluxDB -> files on disk."""

from __future__ import annotations

import io
from pathlib import Path

import yaml

from collector.cli import main
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
