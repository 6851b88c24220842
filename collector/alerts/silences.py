"""Maintenance windows and acknowledgements, both as Alertmanager silences (what the CLI calls).

A maintenance window silences a commune (or one of its sites) for a while; an acknowledgement silences
exactly one alert (all its labels) for a while, so it stops repeating and does not escalate.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from collector.alerts.alertmanager import AlertmanagerClient, Matcher, matchers_from_labels
from collector.registry import PHU_THO, communes, normalise_code

# Labels that identify an alert; annotations-like or volatile labels are left out of an acknowledge.
ACK_LABELS = ("alertname", "province", "commune", "site", "agent", "target", "service", "isp", "incident_id")


def window_matchers(commune: str, site: str | None = None, province: int = PHU_THO) -> list[Matcher]:
    code = normalise_code(commune)
    if code not in communes(province):
        raise ValueError(f"commune code {commune!r} is not a commune of province {province}")
    out = [Matcher("commune", code)]
    if site:
        out.append(Matcher("site", site))
    return out


async def maintenance_window(client: AlertmanagerClient, commune: str, duration: timedelta, *,
                             site: str | None = None, start: datetime | None = None,
                             created_by: str = "commune-monitor", reason: str = "") -> str:
    """Silence every alert of a commune (or one site) from ``start`` (default now) for ``duration``."""
    if duration <= timedelta(0):
        raise ValueError("a maintenance window needs a positive duration")
    start = start or datetime.now(UTC)
    matchers = window_matchers(commune, site)
    where = f"{matchers[0].value}" + (f"/{site}" if site else "")
    comment = f"Bảo trì {where}" + (f": {reason}" if reason else "")
    return await client.create_silence(matchers, start, start + duration, created_by, comment)


def ack_matchers(labels: Mapping[str, str]) -> list[Matcher]:
    picked = {k: v for k, v in labels.items() if k in ACK_LABELS}
    if "alertname" not in picked:
        raise ValueError("an acknowledged alert must have an alertname label")
    return matchers_from_labels(picked)


async def acknowledge(client: AlertmanagerClient, labels: Mapping[str, str], duration: timedelta, *,
                      created_by: str, comment: str = "") -> str:
    """Silence exactly the alert with these labels for ``duration`` (an acknowledgement)."""
    if duration <= timedelta(0):
        raise ValueError("an acknowledgement needs a positive duration")
    now = datetime.now(UTC)
    text = comment or f"Đã xác nhận cảnh báo {labels.get('alertname', '')}"
    return await client.create_silence(ack_matchers(labels), now, now + duration, created_by, text)


async def end(client: AlertmanagerClient, silence_id: str) -> None:
    """End a maintenance window or acknowledgement early."""
    await client.delete_silence(silence_id)
