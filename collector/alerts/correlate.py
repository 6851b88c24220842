"""Correlation: many symptoms, one cause.

- A portal (``service``) failing in >= ``portal_min_communes`` communes, or in >= ``portal_min_fraction`` of
  the communes that watch it (and at least 2), counting communes whose alert is still pending, while at least
  one commune's alert fires, is one ``PortalIncident`` (kind=incident, scope=province);
  the per-commune PortalDown alerts become kind=symptom with incident_id ``portal:<service>``. Once raised,
  the incident holds while at least 2 communes still fail (no flapping around the threshold).
- A site whose gateway ping AND every external ping target fail is a ``SiteLinkDown`` incident
  (scope=site, incident_id ``sitelink:<commune>/<site>``); that site's per-target alerts become its symptoms.
- ``isp_min_sites`` sites of the same ISP with their link down at once are one ``IspOutage`` incident
  (scope=province, incident_id ``isp:<isp>``); their SiteLinkDown alerts, and those alerts' symptoms, become
  symptoms of it.
Incidents keep their startsAt (``starts``, saved with the engine state).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from collector.alerts.model import Alert
from collector.alerts.rules import CorrelationSpec, Rule
from collector.alerts.series import ACTIVE, Series, State, Subject
from common import vnformat


@dataclass
class Candidate:
    labels: dict[str, str]
    rule: Rule
    subject: Subject
    series: Series
    starts_at: float
    ends_at: float | None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-") or "unknown"


class Correlator:
    def __init__(self, spec: CorrelationSpec) -> None:
        self.spec = spec
        self.starts: dict[str, float] = {}
        self.watch: dict[str, set[str]] = {}  # service -> communes that have reported it

    def correlate(self, cands: list[Candidate], all_series: list[tuple[Subject, Series, Rule]],
                  t: float) -> list[Alert]:
        incidents: dict[str, Alert] = {}
        self._site_links(cands, all_series, t, incidents)
        self._isp(cands, t, incidents)
        self._portal(cands, all_series, t, incidents)
        self.starts = {k: v for k, v in self.starts.items() if k in incidents}
        return list(incidents.values())

    def _start(self, incident_id: str, default: float) -> float:
        return self.starts.setdefault(incident_id, default)

    def _site_links(self, cands: list[Candidate], all_series: list[tuple[Subject, Series, Rule]], t: float,
                    incidents: dict[str, Alert]) -> None:
        sites: dict[tuple[str, str], dict[tuple[bool, str], list[Series]]] = {}
        subjects: dict[tuple[str, str], Subject] = {}
        for subject, series, rule in all_series:
            if rule.name != self.spec.target_alertname:
                continue
            key = (subject.commune, subject.site)
            subjects[key] = subject
            is_gw = series.tags.get("role") == self.spec.gateway_role
            sites.setdefault(key, {}).setdefault((is_gw, series.target), []).append(series)
        for key, targets in sites.items():
            # a target still pending counts as failing (as for portals: the site's first alert is born a
            # symptom), as long as at least one of them fires
            failing = {tk: any(s.state in (*ACTIVE, State.PENDING) for s in ss) for tk, ss in targets.items()}
            gateways = [f for (gw, _), f in failing.items() if gw]
            external = [f for (gw, _), f in failing.items() if not gw]
            if not (gateways and external and all(gateways) and all(external)):
                continue
            if not any(s.state in ACTIVE for ss in targets.values() for s in ss):
                continue
            subject = subjects[key]
            incident_id = f"sitelink:{subject.commune}/{subject.site}"
            began = max(s.starts_at or t for ss in targets.values() for s in ss if s.state in ACTIVE)
            starts = self._start(incident_id, began)
            labels = {"alertname": "SiteLinkDown", "severity": "critical", "province": subject.province,
                      "commune": subject.commune, "commune_name": subject.commune_name, "site": subject.site,
                      "kind": "incident", "scope": "site", "incident_id": incident_id}
            if subject.isp:
                labels["isp"] = subject.isp
            since = vnformat.date_time(datetime.fromtimestamp(starts, UTC))
            incidents[incident_id] = Alert(labels, {
                "summary": f"Mất kết nối mạng tại điểm {subject.site} ({subject.commune_name})",
                "description": (
                    f"Từ {since}, máy tại điểm {subject.site} của {subject.commune_name} không tới được cổng mạng "
                    f"(gateway) và mọi địa chỉ bên ngoài. Kiểm tra nguồn điện và đèn của modem/router, cáp "
                    f"mạng; khởi động lại modem. Nếu vẫn mất mạng, gọi tổng đài nhà mạng"
                    f"{' ' + subject.isp if subject.isp else ''} để báo sự cố."),
            }, datetime.fromtimestamp(starts, UTC))
            for cand in cands:
                if (cand.subject.commune, cand.subject.site) == key and cand.ends_at is None and \
                        cand.rule.name in self.spec.symptom_alertnames:
                    cand.labels.update(kind="symptom", incident_id=incident_id)

    def _isp(self, cands: list[Candidate], t: float, incidents: dict[str, Alert]) -> None:
        by_isp: dict[str, list[Alert]] = {}
        for alert in incidents.values():
            if alert.labels["alertname"] == "SiteLinkDown" and alert.labels.get("isp"):
                by_isp.setdefault(alert.labels["isp"], []).append(alert)
        for isp, links in by_isp.items():
            if len(links) < self.spec.isp_min_sites:
                continue
            incident_id = f"isp:{_slug(isp)}"
            starts = self._start(incident_id, t)
            names = sorted({a.labels["commune_name"] for a in links})
            since = vnformat.date_time(datetime.fromtimestamp(starts, UTC))
            incidents[incident_id] = Alert(
                {"alertname": "IspOutage", "severity": "critical", "province": links[0].labels["province"],
                 "isp": isp, "kind": "incident", "scope": "province", "incident_id": incident_id},
                {"summary": f"Sự cố mạng {isp}: {len(links)} điểm mất kết nối",
                 "description": (f"Từ {since}, {len(links)} điểm dùng mạng {isp} mất kết nối cùng lúc "
                                 f"({', '.join(names[:10])}{', ...' if len(names) > 10 else ''}). Đây là sự cố "
                                 f"phía nhà mạng: gọi đầu mối kỹ thuật của {isp} tại tỉnh, báo danh sách điểm.")},
                datetime.fromtimestamp(starts, UTC))
            marked = {a.labels["incident_id"] for a in links}
            for link_id in marked:
                old = incidents[link_id]
                incidents[link_id] = Alert({**old.labels, "kind": "symptom", "incident_id": incident_id},
                                           old.annotations, old.starts_at)
            for cand in cands:
                if cand.labels.get("incident_id") in marked:
                    cand.labels["incident_id"] = incident_id

    def _portal(self, cands: list[Candidate], all_series: list[tuple[Subject, Series, Rule]], t: float,
                incidents: dict[str, Alert]) -> None:
        name = self.spec.portal_alertname
        pending: dict[str, dict[str, str]] = {}  # service -> commune -> name, failing but not yet firing
        for subject, series, rule in all_series:
            service = series.tags.get(rule.spec.service_tag, "") if rule.spec.service_tag else ""
            if rule.name == name and service:
                self.watch.setdefault(service, set()).add(subject.commune)
                if series.state is State.PENDING:
                    pending.setdefault(service, {})[subject.commune] = subject.commune_name
        by_service: dict[str, list[Candidate]] = {}
        for cand in cands:
            if cand.rule.name == name and cand.ends_at is None and cand.labels.get("kind") == "alert" \
                    and cand.labels.get("service"):
                by_service.setdefault(cand.labels["service"], []).append(cand)
        for service, failing in by_service.items():
            # communes whose checks fail but whose alert is still pending count too: when the first commune's
            # alert fires, the others have usually seen the outage as well, and its alert is then born a
            # symptom (never notified to the commune), however short the commune routes' group_wait is
            named = {**pending.get(service, {}), **{c.subject.commune: c.subject.commune_name for c in failing}}
            communes = set(named)
            total = len(self.watch.get(service, communes) | communes)
            incident_id = f"portal:{service}"
            needed = min(self.spec.portal_min_communes, max(2, math.ceil(self.spec.portal_min_fraction * total)))
            if len(communes) < (2 if incident_id in self.starts else needed):
                continue
            starts = self._start(incident_id, t)
            since = vnformat.date_time(datetime.fromtimestamp(starts, UTC))
            names = sorted(set(named.values()))
            incidents[incident_id] = Alert(
                {"alertname": "PortalIncident", "severity": "critical", "province": failing[0].subject.province,
                 "service": service, "target": service, "kind": "incident", "scope": "province",
                 "incident_id": incident_id},
                {"summary": f"Hệ thống {service} gặp sự cố tại {len(communes)}/{total} xã, phường",
                 "description": (f"Từ {since}, {service} không truy cập được từ {len(communes)} trên {total} xã, "
                                 f"phường ({', '.join(names[:10])}{', ...' if len(names) > 10 else ''}). "
                                 "Lỗi nằm ở phía hệ thống, không phải ở từng xã: liên hệ đơn vị vận hành "
                                 f"{service} và thông báo cho các xã, phường.")},
                datetime.fromtimestamp(starts, UTC))
            for cand in failing:
                cand.labels.update(kind="symptom", incident_id=incident_id)
