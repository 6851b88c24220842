"""Shared builders for the alert engine tests: subjects, points, a clock in Vietnam time."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from agent.wire import FieldValue, Point
from collector.alerts.engine import Engine
from collector.alerts.rules import DEFAULT_RULES, load_rules
from collector.alerts.series import Subject

VN = ZoneInfo("Asia/Ho_Chi_Minh")
MONDAY_9 = datetime(2026, 11, 30, 9, 0, tzinfo=VN)  # a working Monday, office hours


def subject(agent: str = "pc-01", commune: str = "07900", site: str = "main", role: str = "pc",
            isp: str = "") -> Subject:
    return Subject(agent, commune, f"Phường {commune}", "25", site, role, isp)


def point(m: str, at: datetime, fields: dict[str, FieldValue], **tags: str) -> Point:
    return Point(m=m, t=int(at.timestamp() * 1e9), f=fields, tg=tags)


def engine() -> Engine:
    return Engine(load_rules(DEFAULT_RULES))


def feed(eng: Engine, subj: Subject, m: str, start: datetime, minutes: int, fields: dict[str, FieldValue],
         step_s: int = 60, **tags: str) -> datetime:
    """One point every step_s seconds for `minutes`, evaluating after each; returns the time after the last."""
    at = start
    end = start + timedelta(minutes=minutes)
    while at < end:
        eng.observe(subj, [point(m, at, fields, **tags)])
        eng.evaluate(at)
        at += timedelta(seconds=step_s)
    return at


def firing(eng: Engine, now: datetime, alertname: str) -> list[dict[str, str]]:
    return [a.labels for a in eng.active_alerts(now) if a.labels["alertname"] == alertname and a.ends_at is None]
