"""Vietnamese formatting of numbers, durations, sizes and dates: the one place user-facing text gets them
(``commune-agent check``, alert texts, the monthly report).

``0,2 ms``, ``1.234,5``, ``23/11/2026 14:05`` (Vietnam time), ``2 giờ 5 phút``, ``15,6 GB``.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta, tzinfo


@functools.cache
def vn_tz() -> tzinfo:
    """Vietnam time (zoneinfo is imported on first use: the agent formats dates only in ``check`` output)."""
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Ho_Chi_Minh")


def number(value: float | int, decimals: int = 1, trim: bool = True) -> str:
    """1234.56 -> ``1.234,6``; 0.2 -> ``0,2``; 20.0 -> ``20`` (trailing zeros dropped unless ``trim`` is
    False: ``number(95.5, 2, trim=False)`` -> ``95,50``, for table columns)."""
    if isinstance(value, bool):
        value = int(value)
    text = f"{value:,.{decimals}f}" if isinstance(value, float) else f"{value:,d}"
    if trim and "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", "-0.0"):
        text = "0"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def integer(value: float | int) -> str:
    """12345.7 -> ``12.345`` (truncated, thousands with dots)."""
    return number(int(value))


def with_unit(value: float | int, unit: str, decimals: int = 1) -> str:
    """``0,2 ms``, ``35 %`` (Vietnamese puts a space before %)."""
    return f"{number(value, decimals)} {unit}".rstrip()


def size(n_bytes: float | int) -> str:
    """A byte count in binary units with Vietnamese decimals: 16_700_000_000 -> ``15,6 GB``."""
    value = float(n_bytes)
    for unit in ("byte", "KB", "MB", "GB"):
        if abs(value) < 1024:
            return with_unit(value if unit != "byte" else int(value), unit)
        value /= 1024
    return with_unit(value, "TB")


def date_time(moment: datetime) -> str:
    """An aware datetime -> ``23/11/2026 14:05`` in Vietnam time (a naive one is taken as Vietnam time)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(vn_tz())
    return moment.strftime("%d/%m/%Y %H:%M")


def date(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(vn_tz())
    return moment.strftime("%d/%m/%Y")


def duration(span: timedelta | float) -> str:
    """3725 s -> ``1 giờ 2 phút``; 86400*3 -> ``3 ngày``; 40 s -> ``40 giây``."""
    seconds = int(span.total_seconds() if isinstance(span, timedelta) else span)
    seconds = max(seconds, 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n} {unit}" for n, unit in ((days, "ngày"), (hours, "giờ"), (minutes, "phút")) if n]
    if not parts:
        return f"{secs} giây"
    return " ".join(parts[:2])
