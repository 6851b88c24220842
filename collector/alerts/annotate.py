"""Labels (the contract's names) and Vietnamese annotations of a rule's alert."""

from __future__ import annotations

from collector.alerts.model import fingerprint_of
from collector.alerts.rules import Rule
from collector.alerts.series import Series, Subject
from collector.alerts.service_names import service_name
from collector.alerts.template import render
from common import vnformat


def labels_for(rule: Rule, subject: Subject, series: Series) -> dict[str, str]:
    spec = rule.spec
    labels = {"alertname": spec.name, "severity": spec.severity, "province": subject.province,
              "commune": subject.commune, "commune_name": subject.commune_name,
              "kind": "alert", "scope": spec.scope, **spec.labels}
    if spec.scope in ("agent", "site"):
        labels["site"] = subject.site
        if subject.isp:
            labels["isp"] = subject.isp
    if spec.scope == "agent":
        labels["agent"] = subject.agent
    if series.target:
        labels["target"] = series.target
    if spec.service_tag and series.tags.get(spec.service_tag):
        labels["service"] = series.tags[spec.service_tag]
    return labels


def format_value(rule: Rule, value: float | str | None) -> str:
    if value is None:
        return "?"
    if isinstance(value, str):
        return value
    if rule.spec.absent is not None:
        return vnformat.duration(value)
    return vnformat.with_unit(value, rule.spec.unit, rule.spec.decimals)


def render_annotations(rule: Rule, subject: Subject, series: Series, starts_at: float, now: float) -> dict[str, str]:
    spec = rule.spec
    from datetime import UTC, datetime

    threshold = rule.fire.value if rule.fire is not None else (spec.absent or 0.0)
    values = {
        "province": subject.province, "commune": subject.commune, "commune_name": subject.commune_name,
        "site": subject.site, "agent": subject.agent, "target": series.target or "",
        "service": series.tags.get(spec.service_tag, "") if spec.service_tag else "",
        "service_name": service_name(series.tags.get(spec.service_tag, "")) if spec.service_tag else "",
        "isp": subject.isp, "rule": spec.name,
        "value": format_value(rule, series.value),
        "threshold": format_value(rule, threshold),
        "since": vnformat.date_time(datetime.fromtimestamp(starts_at, UTC)),
        "duration": vnformat.duration(now - starts_at),
        **{f"tag_{k}": v for k, v in series.tags.items()},
    }
    out = {"summary": render(spec.summary, values).strip(), "description": render(spec.description, values).strip()}
    if spec.runbook:
        out["runbook"] = render(spec.runbook, values).strip()
    return out


__all__ = ["fingerprint_of", "labels_for", "render_annotations"]
