"""``retention:`` in the collector config: how long raw points and rollups are kept, and which policy the
dashboards read for a time range (collector/retention.py creates the policies and continuous queries).

Kept apart from collector/retention.py so that collector/config.py can hold the section without importing the
InfluxDB code (which imports the config).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

Duration = Annotated[str, msgspec.Meta(pattern=r"^(INF|[0-9]+[hdw])$")]
"""A whole number of hours, days or weeks (``30d``, ``104w``), or ``INF`` (kept forever)."""

_UNIT_S = {"h": 3600, "d": 86400, "w": 7 * 86400}


def seconds(duration: str) -> int:
    """``30d`` -> 2592000; ``INF`` -> 0 (InfluxDB's way of saying infinite)."""
    return 0 if duration == "INF" else int(duration[:-1]) * _UNIT_S[duration[-1]]


def _longer(a: str, b: str) -> bool:
    """``a`` is longer than ``b`` (INF is longer than anything but INF)."""
    sa, sb = seconds(a) or 1 << 62, seconds(b) or 1 << 62
    return sa > sb


class RetentionSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``retention:`` in the collector config (docs/config-reference.md)."""

    enabled: bool = True
    """Create the policies, continuous queries and dashboard meta points at start (InfluxDB 1.x only)."""
    raw_policy: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_]+$")] = "autogen"
    """The database's default policy, where the collector writes raw points."""
    raw_duration: Duration = "30d"
    rollup_duration: Duration = "104w"
    """How long rp_1m and rp_1h keep their rollups (104 weeks: 2 years)."""
    raw_max_range: Duration = "2d"
    """Dashboards read raw points for time ranges up to this long..."""
    minute_max_range: Duration = "14d"
    """...1-minute rollups up to this long, and 1-hour rollups beyond."""
    site_rollups: bool = True
    """Also roll up per site (``rp_site_1m``, ``rp_site_1h``: no ``agent`` tag) for the province-wide dashboards,
    which then read them at every time range; without them those dashboards read the per-agent choice."""

    def __post_init__(self) -> None:
        if self.raw_max_range == "INF" or self.minute_max_range == "INF":
            raise ValueError("raw_max_range and minute_max_range must be finite")
        if _longer(self.raw_max_range, self.raw_duration):
            raise ValueError(f"raw_max_range ({self.raw_max_range}) is longer than raw_duration "
                             f"({self.raw_duration}): dashboards would read raw points that are gone")
        if not _longer(self.minute_max_range, self.raw_max_range):
            raise ValueError(f"minute_max_range ({self.minute_max_range}) must be longer than raw_max_range "
                             f"({self.raw_max_range})")
        if _longer(self.minute_max_range, self.rollup_duration):
            raise ValueError(f"minute_max_range ({self.minute_max_range}) is longer than rollup_duration "
                             f"({self.rollup_duration})")
