"""The report's public holidays default to the alert calendar's: one list, ``calendar.holidays`` of the
alert rules file the collector uses (``alerts.rules``, or the shipped collector/defaults/alert-rules.yaml
with the 2026/2027 Vietnamese public holidays). ``--holidays`` / ``--holidays-file`` replace it."""

from __future__ import annotations

import datetime as dt

from collector.config import CollectorConfig


def alert_calendar_holidays(cfg: CollectorConfig) -> frozenset[dt.date]:
    from collector.alerts.rules import load_rules
    from collector.alerts.service import rules_path

    return frozenset(load_rules(rules_path(cfg)).spec.calendar.holidays)
