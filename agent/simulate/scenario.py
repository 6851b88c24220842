"""The scenario file: which province and fleet to simulate, and the faults to inject with start and end.

Validated like every config: unknown keys and bad values are errors naming the file and the field
(``scenario.yaml: faults[1].site: unknown key``). Fault times are either offsets from the start of the run
(``"+10m"``; for a backfill, from the start of the backfilled period) or ISO 8601 instants with a zone
(``"2026-11-23T09:00:00+07:00"``). A fault is active from ``start`` (included) to ``end`` (excluded).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import msgspec

from agent.errors import ConfigError
from agent.units import Duration, dec_hook, parse_duration
from common.config_errors import describe_validation_error
from common.yaml_file import read_yaml

Code = Annotated[str, msgspec.Meta(pattern=r"^\d{5}\Z")]
Time = Annotated[str, msgspec.Meta(min_length=1)]


class _Fault(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, tag_field="kind"):
    start: Time
    end: Time


class _Where(_Fault, kw_only=True):
    """Which agents: all of a commune, one site of it, or one agent (the empty ones match everything given)."""

    commune: Code | None = None
    site: str = ""
    agent: str = ""


class SiteLinkDown(_Fault, tag="site_link_down", kw_only=True):
    """The site's internet link is cut: LAN still works, nothing beyond the router answers, agents go offline."""

    commune: Code
    site: str = ""
    """Empty: every site of the commune."""


class IspOutage(_Fault, tag="isp_outage", kw_only=True):
    isp: Annotated[str, msgspec.Meta(min_length=1)]


class PortalOutage(_Fault, tag="portal_outage", kw_only=True):
    service: Annotated[str, msgspec.Meta(min_length=1)]
    """A service name of the http catalogue (e.g. dvc-phutho)."""
    status_code: Annotated[int, msgspec.Meta(ge=100, le=599)] = 503


class TokenRemoved(_Where, tag="token_removed", kw_only=True):
    pass


class CertificateExpiring(_Where, tag="certificate_expiring", kw_only=True):
    days_left: Annotated[float, msgspec.Meta(ge=-3650, le=3650)]
    """Days left at ``start``; it counts down with time (negative: expired)."""


class RouterReboot(_Fault, tag="router_reboot", kw_only=True):
    commune: Code
    site: str = ""


class ClockOff(_Where, tag="clock_off", kw_only=True):
    offset_s: Annotated[float, msgspec.Meta(ge=-86400 * 30, le=86400 * 30)]
    """Agent clock minus true time, seconds."""


Fault = SiteLinkDown | IspOutage | PortalOutage | TokenRemoved | CertificateExpiring | RouterReboot | ClockOff


class _RawScenario(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    province: Annotated[int, msgspec.Meta(ge=1, le=99)] = 25
    seed: int = 1
    communes: Annotated[int, msgspec.Meta(ge=0)] = 0
    """Simulate only the first N communes by code (0: all)."""
    only: list[Code] = msgspec.field(default_factory=list)
    """Simulate exactly these communes (overrides ``communes``)."""
    multi_site_share: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.67
    """Share of communes with offices on several sites (Phú Thọ: 99 of 148)."""
    max_sites: Annotated[int, msgspec.Meta(ge=1, le=9)] = 3
    pcs_per_site: Annotated[int, msgspec.Meta(ge=0, le=200)] = 2
    interval: Duration = Duration(60)
    """How often every agent reports (seconds, or "30s", "1m")."""
    office_start: Annotated[str, msgspec.Meta(pattern=r"^\d{2}:\d{2}\Z")] = "07:30"
    office_end: Annotated[str, msgspec.Meta(pattern=r"^\d{2}:\d{2}\Z")] = "17:00"
    faults: list[Fault] = msgspec.field(default_factory=list)


@dataclass(frozen=True)
class Window:
    fault: Fault
    start_ns: int
    end_ns: int

    def active(self, t_ns: int) -> bool:
        return self.start_ns <= t_ns < self.end_ns


@dataclass
class Scenario:
    source: str
    province: int
    seed: int
    communes: int
    only: list[str]
    multi_site_share: float
    max_sites: int
    pcs_per_site: int
    interval: float
    office_start_min: int
    office_end_min: int
    faults: list[Fault]

    def windows(self, origin_ns: int) -> list[Window]:
        """The faults with absolute times; relative ones count from ``origin_ns``."""
        return [Window(f, resolve_time(f.start, origin_ns), resolve_time(f.end, origin_ns)) for f in self.faults]


_REL_RE = re.compile(r"^\+(.+)$")
_PART_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def _offset(text: str) -> float:
    """"90s", "9h40m", "1d2h": seconds."""
    if _PART_RE.sub("", text) == "" and text:
        return sum(parse_duration(n + unit) for n, unit in _PART_RE.findall(text))
    return parse_duration(text)


def resolve_time(text: str, origin_ns: int) -> int:
    m = _REL_RE.match(text.strip())
    if m:
        return origin_ns + round(_offset(m.group(1)) * 1e9)
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone (write e.g. +07:00)")
    return round(when.timestamp() * 1e9)


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def parse_scenario(data: Any, source: str) -> Scenario:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: (top level): expected a mapping")
    try:
        raw = msgspec.convert(data, _RawScenario, dec_hook=dec_hook)
    except msgspec.ValidationError as exc:
        where, what = describe_validation_error(exc)
        raise ConfigError(f"{source}: {where}: {what}") from None
    for i, f in enumerate(raw.faults):
        for name in ("start", "end"):
            try:
                resolve_time(getattr(f, name), 0)
            except ValueError as exc:
                raise ConfigError(f"{source}: faults[{i}].{name}: expected '+<duration>' or an ISO 8601 time "
                                  f"with zone: {exc}") from None
        if resolve_time(f.end, 0) <= resolve_time(f.start, 0) and f.start.startswith("+") == f.end.startswith("+"):
            raise ConfigError(f"{source}: faults[{i}].end: must be after start ({f.start})")
    start, end = _minutes(raw.office_start), _minutes(raw.office_end)
    if not 0 <= start < end <= 24 * 60:
        raise ConfigError(f"{source}: office_end: must be after office_start, within one day")
    if raw.interval < 0.05:
        raise ConfigError(f"{source}: interval: at least 50ms")
    return Scenario(source, raw.province, raw.seed, raw.communes, list(raw.only), raw.multi_site_share, raw.max_sites,
                    raw.pcs_per_site, float(raw.interval), start, end, list(raw.faults))


def load_scenario(path: str | Path | None) -> Scenario:
    if path is None:
        return parse_scenario({}, "(built-in scenario)")
    path = Path(path)
    return parse_scenario(read_yaml(path, ConfigError), str(path))


__all__ = ["CertificateExpiring", "ClockOff", "Fault", "IspOutage", "PortalOutage", "RouterReboot", "Scenario",
           "SiteLinkDown", "TokenRemoved", "Window", "load_scenario", "parse_scenario", "resolve_time"]
