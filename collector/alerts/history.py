"""Alert history for the monthly report: one ``alerts`` point per resolved alert, timestamped at its end
(docs/report.md, "Alert history").

The engine also ends an alert's label set when the alert is only relabelled (marked a symptom of an incident,
escalated): that is not a resolution. An alert counts as resolved when no active alert has the same
identity (its labels without ``kind``, ``incident_id`` and ``escalated``). Each resolution is written once
per run; a restart may write it again, which InfluxDB overwrites (same series and timestamp).

Tags: province, commune, site, alertname, service, severity, scope (``commune`` when the alert names a
commune, else ``province``), kind (alert / incident / symptom). Fields: duration_s, started_at (unix seconds),
communes (communes affected: for an incident, those whose alerts were marked as its symptoms; else 1).
"""

from __future__ import annotations

from collections.abc import Iterable

from collector.alerts.model import Alert, fingerprint_of
from collector.lineproto import LineEncoder

MEASUREMENT = "alerts"
_RELABELS = ("kind", "incident_id", "escalated")
_TAGS = ("province", "commune", "site", "alertname", "service", "severity", "kind")
_KEEP = 3 * 86400.0  # remember written resolutions this long (the engine shows one for minutes)


def identity_of(alert: Alert) -> str:
    return fingerprint_of({k: v for k, v in alert.labels.items() if k not in _RELABELS})


class AlertHistory:
    def __init__(self, encoder: LineEncoder | None = None) -> None:
        self.encoder = encoder or LineEncoder()
        self.written: dict[tuple[str, float], float] = {}  # (identity, start) -> end
        self.affected: dict[str, set[str]] = {}  # incident_id -> communes of its symptoms

    def resolved_lines(self, alerts: Iterable[Alert]) -> list[bytes]:
        """Line-protocol points for alerts resolved since the last call (``alerts``: what the engine shows)."""
        shown = list(alerts)
        active = {identity_of(a) for a in shown if a.ends_at is None}
        for a in shown:
            incident = a.labels.get("incident_id")
            if incident and a.labels.get("kind") == "symptom" and a.labels.get("commune"):
                self.affected.setdefault(incident, set()).add(a.labels["commune"])
        lines: list[bytes] = []
        for a in shown:
            if a.ends_at is None:
                continue
            ident = identity_of(a)
            key = (ident, a.starts_at.timestamp())
            if ident in active or key in self.written:
                continue
            self.written[key] = a.ends_at.timestamp()
            lines.append(self._line(a).encode())
        newest = max(self.written.values(), default=0.0)
        self.written = {k: end for k, end in self.written.items() if newest - end <= _KEEP}
        live = {a.labels.get("incident_id") for a in shown}
        self.affected = {k: v for k, v in self.affected.items() if k in live}
        return lines

    def _line(self, alert: Alert) -> str:
        labels = alert.labels
        assert alert.ends_at is not None
        tags = {k: labels[k] for k in _TAGS if labels.get(k)}
        tags["scope"] = "commune" if labels.get("commune") else "province"
        communes = 1
        if labels.get("kind") == "incident" and labels.get("incident_id"):
            communes = max(1, len(self.affected.get(labels["incident_id"], set())))
        start = alert.starts_at.timestamp()
        end = alert.ends_at.timestamp()
        fields = {"duration_s": max(0.0, end - start), "started_at": int(start), "communes": communes}
        return self.encoder.line(MEASUREMENT, tags, fields, int(end * 1e9))
