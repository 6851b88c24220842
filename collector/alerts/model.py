"""The alert as both sides of the contract see it (see docs/alerts.md): labels, annotations, times."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any


def fingerprint_of(labels: dict[str, str]) -> str:
    """Stable 16-hex hash of the sorted label set (same labels -> same fingerprint, in any order)."""
    h = hashlib.sha256()
    for key in sorted(labels):
        h.update(key.encode())
        h.update(b"\x00")
        h.update(labels[key].encode())
        h.update(b"\x01")
    return h.hexdigest()[:16]


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Alert:
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None = None
    generator_url: str = field(default="", compare=False)

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(self.labels)

    @property
    def resolved(self) -> bool:
        return self.ends_at is not None

    def with_ends_at(self, ends_at: datetime | None) -> Alert:
        return replace(self, ends_at=ends_at)

    def to_api(self) -> dict[str, Any]:
        """The object Alertmanager's POST /api/v2/alerts expects (postableAlert)."""
        body: dict[str, Any] = {
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "startsAt": _rfc3339(self.starts_at),
        }
        if self.ends_at is not None:
            body["endsAt"] = _rfc3339(self.ends_at)
        if self.generator_url:
            body["generatorURL"] = self.generator_url
        return body
