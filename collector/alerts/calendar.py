"""Office hours, working days and public holidays in Vietnam time (Asia/Ho_Chi_Minh).

A PC switched off at night, at the weekend or on Tết is not an incident: rules marked
``office_hours_only`` only fire inside :meth:`OfficeCalendar.is_office_time`.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HhMm = msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")

# Vietnamese public holidays on working days (Labour Code art. 112 and the government's yearly notices),
# with the compensating days off. Tết and the 2/9 adjacent day are set by a yearly decision: the provincial
# IT team confirms each year's dates in alert-rules.yaml (calendar.holidays), which replaces this list.
VN_PUBLIC_HOLIDAYS: tuple[str, ...] = (
    # 2026
    "2026-01-01",                                                  # Tết Dương lịch
    "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20",  # Tết Nguyên đán Bính Ngọ
    "2026-04-27",                                                  # Giỗ Tổ Hùng Vương (26/4 is a Sunday)
    "2026-04-30", "2026-05-01",                                    # Giải phóng miền Nam, Quốc tế Lao động
    "2026-09-01", "2026-09-02",                                    # Quốc khánh
    # 2027
    "2027-01-01",                                                  # Tết Dương lịch
    "2027-02-05", "2027-02-08", "2027-02-09", "2027-02-10", "2027-02-11",  # Tết Nguyên đán Đinh Mùi
    "2027-04-16",                                                  # Giỗ Tổ Hùng Vương
    "2027-04-30", "2027-05-03",                                    # 30/4; 1/5 is a Saturday -> Monday 3/5
    "2027-09-02", "2027-09-03",                                    # Quốc khánh
)


class CalendarConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    timezone: str = "Asia/Ho_Chi_Minh"
    office_start: str = msgspec.field(default="07:30")
    office_end: str = msgspec.field(default="17:00")
    weekdays: list[Weekday] = msgspec.field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"])
    holidays: list[date] = msgspec.field(default_factory=lambda: [date.fromisoformat(d) for d in VN_PUBLIC_HOLIDAYS])
    extra_working_days: list[date] = msgspec.field(default_factory=list)
    """Saturdays or Sundays worked to compensate a bridge holiday (they count as office days)."""


class OfficeCalendar:
    def __init__(self, config: CalendarConfig | None = None) -> None:
        cfg = config or CalendarConfig()
        self.config = cfg
        self.tz = ZoneInfo(cfg.timezone)
        self.start = time.fromisoformat(cfg.office_start)
        self.end = time.fromisoformat(cfg.office_end)
        self.weekdays = {_WEEKDAYS.index(d) for d in cfg.weekdays}
        self.holidays = set(cfg.holidays)
        self.extra = set(cfg.extra_working_days)

    def is_working_day(self, day: date) -> bool:
        if day in self.extra:
            return True
        return day.weekday() in self.weekdays and day not in self.holidays

    def is_office_time(self, moment: datetime) -> bool:
        local = moment.astimezone(self.tz)
        return self.is_working_day(local.date()) and self.start <= local.time() < self.end

    def office_period_start(self, moment: datetime) -> datetime | None:
        """When the current office period began (today's office start), or None outside office time."""
        if not self.is_office_time(moment):
            return None
        local = moment.astimezone(self.tz)
        return datetime.combine(local.date(), self.start, tzinfo=self.tz)

    def next_office_start(self, moment: datetime) -> datetime:
        local = moment.astimezone(self.tz)
        day = local.date()
        for _ in range(60):
            start = datetime.combine(day, self.start, tzinfo=self.tz)
            if self.is_working_day(day) and start > local:
                return start
            day += timedelta(days=1)
        raise ValueError("no working day in the next 60 days")
