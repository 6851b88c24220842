"""Vietnamese formatting of numbers, durations and dates: the one place user-facing alert text gets them.

``0,2 ms``, ``1.234,5``, ``23/11/2026 14:05`` (Vietnam time), ``2 giờ 5 phút``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def number(value: float | int, decimals: int = 1) -> str:
    """1234.56 -> ``1.234,6``; 0.2 -> ``0,2``; 20.0 -> ``20`` (trailing zeros dropped)."""
    if isinstance(value, bool):
        value = int(value)
    text = f"{value:,.{decimals}f}" if isinstance(value, float) else f"{value:,d}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def with_unit(value: float | int, unit: str, decimals: int = 1) -> str:
    """``0,2 ms``, ``35 %`` (Vietnamese puts a space before %)."""
    return f"{number(value, decimals)} {unit}".rstrip()


def date_time(moment: datetime) -> str:
    """An aware datetime -> ``23/11/2026 14:05`` in Vietnam time."""
    return moment.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M")


def date(moment: datetime) -> str:
    return moment.astimezone(VN_TZ).strftime("%d/%m/%Y")


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
