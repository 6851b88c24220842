"""Vietnamese numbers, sizes, dates and durations: one module used by check, alerts and the report."""

from __future__ import annotations

import datetime as dt

from collector.report.tables import fmt
from common import vnformat


def test_numbers_use_decimal_comma_and_thousands_dots() -> None:
    assert vnformat.with_unit(0.2, "ms") == "0,2 ms"
    assert vnformat.number(1234567.25, 2) == "1.234.567,25"
    assert vnformat.number(20.0) == "20"
    assert vnformat.number(95.5, 2, trim=False) == "95,50"
    assert vnformat.number(-0.04) == "0"
    assert vnformat.integer(12345.9) == "12.345"


def test_sizes_in_binary_units() -> None:
    assert vnformat.size(512) == "512 byte"
    assert vnformat.size(16_700_000_000) == "15,6 GB"
    assert vnformat.size(3 * 1024**4) == "3 TB"


def test_dates_in_vietnam_time() -> None:
    utc = dt.datetime(2026, 11, 23, 7, 5, tzinfo=dt.UTC)
    assert vnformat.date_time(utc) == "23/11/2026 14:05"
    assert vnformat.date(utc) == "23/11/2026"
    assert vnformat.date_time(dt.datetime(2026, 11, 23, 14, 5)) == "23/11/2026 14:05"  # naive = already local


def test_durations() -> None:
    assert vnformat.duration(3725) == "1 giờ 2 phút"
    assert vnformat.duration(dt.timedelta(days=3)) == "3 ngày"
    assert vnformat.duration(40) == "40 giây"


def test_report_cells_use_the_same_formats() -> None:
    assert fmt(1234.5, "num") == "1.234,50"
    assert fmt(98.25, "pct") == "98,25"
    assert fmt(12345, "int") == "12.345"
    assert fmt(dt.datetime(2026, 11, 23, 7, 5, tzinfo=dt.UTC), "date") == "23/11/2026 14:05"
    assert fmt(None, "num") == "—"
