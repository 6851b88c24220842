"""What the report knows about one month: per site, portal, commune, and the province."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass
class SiteFigures:
    commune: str
    site: str
    office_min: int
    up_min: float = 0.0
    reported_min: float = 0.0  # minutes with at least one connectivity point (up or down)
    loss_pct: float | None = None
    rtt_ms: float | None = None
    in_inventory: bool = True

    @property
    def down_min(self) -> float:
        return max(self.reported_min - self.up_min, 0.0)

    @property
    def nodata_min(self) -> float:
        return max(self.office_min - self.reported_min, 0.0)

    @property
    def availability(self) -> float | None:
        """% of the minutes with data that were up (None: no data at all)."""
        return 100.0 * self.up_min / self.reported_min if self.reported_min else None

    @property
    def completeness(self) -> float:
        return 100.0 * min(self.reported_min / self.office_min, 1.0) if self.office_min else 0.0


@dataclass
class PortalFigures:
    commune: str
    service: str
    up_min: float = 0.0
    reported_min: float = 0.0
    p95_ms: float | None = None

    @property
    def down_min(self) -> float:
        return max(self.reported_min - self.up_min, 0.0)

    @property
    def availability(self) -> float | None:
        return 100.0 * self.up_min / self.reported_min if self.reported_min else None


@dataclass(frozen=True)
class ExpiringCert:
    commune: str
    token: str
    subject: str
    issuer: str
    not_after: dt.datetime


@dataclass
class CommuneFigures:
    code: str
    name: str
    sites: list[SiteFigures] = field(default_factory=list)
    portals: list[PortalFigures] = field(default_factory=list)
    incidents: int = 0
    downtime_min: float = 0.0
    tokens_seen: int = 0
    tokens_valid: int = 0  # tokens with at least one valid, signing-capable certificate at month end
    expiring: list[ExpiringCert] = field(default_factory=list)
    reboots: int = 0
    saturation_h: float = 0.0
    sites_inventory: int = 0
    sites_reporting: int = 0
    score: float = 0.0
    grade: str = ""
    rank: int = 0
    previous_score: float | None = None

    @property
    def mttr_min(self) -> float | None:
        return self.downtime_min / self.incidents if self.incidents else None

    @property
    def availability(self) -> float | None:
        up = sum(s.up_min for s in self.sites)
        rep = sum(s.reported_min for s in self.sites)
        return 100.0 * up / rep if rep else None

    @property
    def completeness(self) -> float:
        inv = [s for s in self.sites if s.in_inventory]
        office = sum(s.office_min for s in inv)
        return 100.0 * min(sum(s.reported_min for s in inv) / office, 1.0) if office else 0.0

    @property
    def portal_availability(self) -> float | None:
        up = sum(p.up_min for p in self.portals)
        rep = sum(p.reported_min for p in self.portals)
        return 100.0 * up / rep if rep else None

    @property
    def coverage(self) -> float:
        return 100.0 * self.sites_reporting / self.sites_inventory if self.sites_inventory else 0.0

    @property
    def change(self) -> float | None:
        return None if self.previous_score is None else self.score - self.previous_score


@dataclass(frozen=True)
class ProvinceIncident:
    alertname: str
    service: str
    started: dt.datetime
    duration_min: float
    communes: int


@dataclass
class MonthData:
    year: int
    month: int
    province_code: int
    province_name: str
    office_min: int
    source_note: str
    communes: dict[str, CommuneFigures] = field(default_factory=dict)
    province_incidents: list[ProvinceIncident] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.month:02d}/{self.year}"

    def ranked(self) -> list[CommuneFigures]:
        return sorted(self.communes.values(), key=lambda c: (c.rank, c.code))
