"""The report's month, office hours (Asia/Ho_Chi_Minh, weekdays, minus holidays and maintenance windows)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

VN = ZoneInfo("Asia/Ho_Chi_Minh")
Interval = tuple[dt.datetime, dt.datetime]  # aware, UTC, [start, end)


def parse_month(text: str) -> tuple[int, int]:
    try:
        d = dt.datetime.strptime(text, "%Y-%m")
    except ValueError:
        raise ValueError(f"month must be YYYY-MM, got {text!r}") from None
    return d.year, d.month


def month_bounds(year: int, month: int) -> Interval:
    """[first day 00:00, next month first day 00:00) in Vietnam time, as UTC."""
    start = dt.datetime(year, month, 1, tzinfo=VN)
    ny, nm = (year + 1, 1) if month == 12 else (year, month + 1)
    end = dt.datetime(ny, nm, 1, tzinfo=VN)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def month_before(now: dt.datetime) -> tuple[int, int]:
    """The month before the one ``now`` (aware) falls in, in Vietnam time: what the monthly timer reports on."""
    today = now.astimezone(VN)
    return previous_month(today.year, today.month)


def next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def _hm(text: str) -> dt.time:
    return dt.datetime.strptime(text, "%H:%M").time()


@dataclass(frozen=True)
class OfficeHours:
    """Office sessions (local time) on weekdays; holidays are local dates; maintenance windows are excluded."""

    sessions: tuple[tuple[str, str], ...] = (("07:30", "11:30"), ("13:30", "17:00"))
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday..Friday
    holidays: frozenset[dt.date] = frozenset()
    maintenance: tuple[Interval, ...] = field(default=())

    def intervals(self, year: int, month: int) -> list[Interval]:
        """The month's office intervals in UTC, maintenance windows cut out, in time order."""
        start, end = month_bounds(year, month)
        day = start.astimezone(VN).date()
        last = end.astimezone(VN).date()
        out: list[Interval] = []
        while day < last:
            if day.weekday() in self.weekdays and day not in self.holidays:
                for a, b in self.sessions:
                    s = dt.datetime.combine(day, _hm(a), VN).astimezone(dt.UTC)
                    e = dt.datetime.combine(day, _hm(b), VN).astimezone(dt.UTC)
                    out.extend(_subtract((s, e), self.maintenance))
            day += dt.timedelta(days=1)
        return out

    def minutes(self, year: int, month: int) -> int:
        return sum(int((e - s).total_seconds()) // 60 for s, e in self.intervals(year, month))


def _subtract(iv: Interval, cuts: tuple[Interval, ...]) -> list[Interval]:
    parts = [iv]
    for cs, ce in cuts:
        nxt: list[Interval] = []
        for s, e in parts:
            if ce <= s or cs >= e:
                nxt.append((s, e))
                continue
            if s < cs:
                nxt.append((s, cs))
            if ce < e:
                nxt.append((ce, e))
        parts = nxt
    return [p for p in parts if p[1] > p[0]]


def parse_window(text: str) -> Interval:
    """``2026-11-05T08:00/2026-11-05T10:00`` (local Vietnam time unless an offset is given) -> UTC interval."""
    try:
        a, b = text.split("/")
        s, e = dt.datetime.fromisoformat(a), dt.datetime.fromisoformat(b)
    except ValueError:
        raise ValueError(f"maintenance window must be START/END in ISO format, got {text!r}") from None
    s = s if s.tzinfo else s.replace(tzinfo=VN)
    e = e if e.tzinfo else e.replace(tzinfo=VN)
    if e <= s:
        raise ValueError(f"maintenance window ends before it starts: {text!r}")
    return s.astimezone(dt.UTC), e.astimezone(dt.UTC)
