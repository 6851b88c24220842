"""The rule engine: points in (``observe``), a timer (``evaluate``), alerts out (``active_alerts``).

Every clock is a parameter: the engine never reads the time itself, so tests drive it exactly.
Series are kept per (rule, agent, target); an alert's labels follow the rule's ``scope``, so several
agents of one site or commune feeding the same site/commune alert are merged into one (earliest start).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime
from pathlib import Path

from agent.wire import Point
from collector.alerts import persist
from collector.alerts.annotate import labels_for, render_annotations
from collector.alerts.calendar import OfficeCalendar
from collector.alerts.correlate import Candidate, Correlator
from collector.alerts.model import Alert, fingerprint_of
from collector.alerts.rules import Rule, RuleSet
from collector.alerts.series import ACTIVE, Series, State, Subject, aggregate

Silenced = Callable[[Alert], bool] | Collection[str]
SeriesKey = tuple[str, str, str]


def _ts(moment: datetime) -> float:
    if moment.tzinfo is None:
        raise ValueError("the engine needs timezone-aware datetimes")
    return moment.timestamp()


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class Engine:
    def __init__(self, ruleset: RuleSet, calendar: OfficeCalendar | None = None,
                 silenced: Silenced | None = None) -> None:
        self.ruleset = ruleset
        self.calendar = calendar or OfficeCalendar(ruleset.spec.calendar)
        self.rules = {r.id: r for r in ruleset.rules}
        self._by_measurement: dict[str, list[Rule]] = {}
        for rule in ruleset.rules:
            self._by_measurement.setdefault(rule.spec.measurement, []).append(rule)
        self.silenced: Silenced = silenced if silenced is not None else frozenset()
        self.correlator = Correlator(ruleset.spec.correlation)
        self.subjects: dict[str, Subject] = {}
        self.first_seen: dict[str, float] = {}
        self.last_seen: dict[tuple[str, str], float] = {}  # (absent rule id, agent) -> last point time
        self.series: dict[SeriesKey, Series] = {}
        self.escalated: dict[str, float] = {}  # fingerprint before escalation -> when
        self.emitted: dict[str, Alert] = {}  # active alerts of the last evaluation, by fingerprint
        self.retired: dict[str, Alert] = {}  # resolved / relabelled alerts still shown with endsAt
        self._current: list[Alert] = []

    # --- input -------------------------------------------------------------------------------------------
    def register(self, subject: Subject, now: datetime) -> None:
        """Know an agent before it sends anything (from the inventory): its silence then counts."""
        self.subjects[subject.agent] = subject
        self.first_seen.setdefault(subject.agent, _ts(now))

    def observe(self, subject: Subject, points: Iterable[Point], now: datetime | None = None) -> None:
        """Feed one batch. Point times are the agent's; with ``now`` they are capped at the collector's clock."""
        cap = _ts(now) if now is not None else None
        self.subjects[subject.agent] = subject
        for point in points:
            t = point.t / 1e9 if cap is None else min(point.t / 1e9, cap)
            self.first_seen.setdefault(subject.agent, t)
            for rule in self._by_measurement.get(point.m, ()):
                if subject.role in rule.spec.applies_to and rule.matches(point.tg):
                    self._sample(rule, subject, point, t)

    def _sample(self, rule: Rule, subject: Subject, point: Point, t: float) -> None:
        spec = rule.spec
        if spec.absent is not None:
            key = (rule.id, subject.agent)
            self.last_seen[key] = max(self.last_seen.get(key, t), t)
            return
        raw = point.f.get(spec.field)
        if raw is None:
            return
        value: float | str = raw if isinstance(raw, str) else float(raw)
        if spec.abs and isinstance(value, float):
            value = abs(value)
        target = "/".join(point.tg.get(tag, "") for tag in spec.target)
        series = self.series.setdefault((rule.id, subject.agent, target), Series(rule.id, subject.agent, target))
        series.tags = dict(point.tg)
        if spec.aggregate is not None and isinstance(value, float):
            window = spec.aggregate.window
            series.samples = [s for s in series.samples if s[0] > max(t, series.last_t) - window]
            series.samples.append((t, value))
            series.samples.sort()
            if t < series.last_t:
                return
            agg = aggregate(spec.aggregate, series.samples, t)
            if agg is None:
                return
            value = agg
        elif t < series.last_t:
            return  # a replayed older point: stored by InfluxDB, but it does not move the state
        series.value, series.last_t = value, t
        if spec.office_hours_only and not self.calendar.is_office_time(_dt(t)):
            return
        series.step(rule, t, rule.fires(value), rule.clears(value))

    # --- timer -------------------------------------------------------------------------------------------
    def evaluate(self, now: datetime, silenced: Silenced | None = None) -> list[Alert]:
        """Advance every timer to ``now``, check absence, correlate, escalate. Returns active_alerts(now)."""
        if silenced is not None:
            self.silenced = silenced
        t = _ts(now)
        office = self.calendar.is_office_time(now)
        retention = self.ruleset.spec.resolved_retention
        self._check_absence(t, now, office)
        for key, series in list(self.series.items()):
            rule = self.rules.get(series.rule_id)
            if rule is None:  # rule removed from the config since the state was saved
                series.resolve(t)
            elif rule.spec.office_hours_only and not office:
                self._outside_office(series, t)
            elif rule.spec.absent is None and t - series.last_t > rule.spec.stale_after:
                series.resolve(t)
            else:
                series.advance(rule, t)
            gone = series.state is State.INACTIVE and (
                rule is None or rule.spec.absent is not None or t - series.last_t > rule.spec.stale_after)
            expired = series.state is State.RESOLVED and series.ends_at is not None and t - series.ends_at > retention
            if gone or expired:
                del self.series[key]
        self._current = self._build(t)
        return self.active_alerts(now)

    def _outside_office(self, series: Series, t: float) -> None:
        resolve = self.ruleset.spec.outside_office_hours == "resolve"
        if series.state is State.PENDING or (series.state in ACTIVE and resolve):
            series.resolve(t)

    def _check_absence(self, t: float, now: datetime, office: bool) -> None:
        for rule in self.ruleset.rules:
            spec = rule.spec
            if spec.absent is None:
                continue
            for agent, subject in self.subjects.items():
                if subject.role not in spec.applies_to:
                    continue
                key = (rule.id, agent, "")
                series = self.series.get(key)
                if spec.office_hours_only and not office:
                    if series is not None:
                        self._outside_office(series, t)
                    continue
                baseline = self.last_seen.get((rule.id, agent), self.first_seen.get(agent, t))
                if spec.office_hours_only:
                    period_start = self.calendar.office_period_start(now)
                    if period_start is not None:
                        baseline = max(baseline, period_start.timestamp())
                missing = t - baseline >= spec.absent
                if series is None:
                    if not missing:
                        continue
                    series = self.series[key] = Series(rule.id, agent, "")
                series.last_t = baseline
                series.value = t - baseline
                at = baseline + spec.absent if missing else baseline
                series.step(rule, at, missing, not missing)
                series.advance(rule, t)

    # --- output ------------------------------------------------------------------------------------------
    def _build(self, t: float) -> list[Alert]:
        merged: dict[str, Candidate] = {}
        for series in self.series.values():
            if series.state not in (*ACTIVE, State.RESOLVED):
                continue
            rule = self.rules.get(series.rule_id)
            subject = self.subjects.get(series.agent)
            if rule is None or subject is None or series.starts_at is None:
                continue
            labels = labels_for(rule, subject, series)
            fp = fingerprint_of(labels)
            ends = None if series.state in ACTIVE else series.ends_at
            prev = merged.get(fp)
            if prev is not None:  # several agents, one site/commune alert
                starts = min(prev.starts_at, series.starts_at)
                ends = None if prev.ends_at is None or ends is None else max(prev.ends_at, ends)
                keep = prev.series if prev.ends_at is None else series
                merged[fp] = Candidate(labels, rule, subject, keep, starts, ends)
            else:
                merged[fp] = Candidate(labels, rule, subject, series, series.starts_at, ends)
        candidates = list(merged.values())
        all_series = [(self.subjects[s.agent], s, self.rules[s.rule_id]) for s in self.series.values()
                      if s.agent in self.subjects and s.rule_id in self.rules]
        incidents = self.correlator.correlate(candidates, all_series, t)
        alerts: list[Alert] = []
        for cand in candidates:
            labels = dict(cand.labels)
            base_fp = fingerprint_of(labels)
            esc = cand.rule.spec.escalate_after
            if cand.ends_at is None and esc is not None and t - cand.starts_at >= esc:
                probe = Alert(labels, {}, _dt(cand.starts_at))
                if base_fp in self.escalated or not self._is_silenced(probe):
                    self.escalated.setdefault(base_fp, t)
                    labels["escalated"] = "true"
            annotations = render_annotations(cand.rule, cand.subject, cand.series, cand.starts_at, t)
            ends_at = _dt(cand.ends_at) if cand.ends_at is not None else None
            alerts.append(Alert(labels, annotations, _dt(cand.starts_at), ends_at))
        alerts.extend(incidents)
        active = {a.fingerprint: a for a in alerts if a.ends_at is None}
        shown = {a.fingerprint for a in alerts}
        for fp, old in self.emitted.items():
            if fp not in shown:  # relabelled (symptom, escalated) or dropped: end the old label set
                self.retired[fp] = old.with_ends_at(_dt(t))
        retention = self.ruleset.spec.resolved_retention
        self.retired = {fp: a for fp, a in self.retired.items()
                        if fp not in active and a.ends_at is not None and t - a.ends_at.timestamp() <= retention}
        live = {fp for fp in self.escalated if fp in active or any(
            fingerprint_of({k: v for k, v in a.labels.items() if k != "escalated"}) == fp for a in active.values())}
        self.escalated = {fp: at for fp, at in self.escalated.items() if fp in live}
        self.emitted = active
        return alerts

    def _is_silenced(self, alert: Alert) -> bool:
        if callable(self.silenced):
            return bool(self.silenced(alert))
        return alert.fingerprint in self.silenced

    def active_alerts(self, now: datetime) -> list[Alert]:
        """Firing alerts (endsAt unset: the poster sets now + 3x its interval) and recently resolved ones."""
        shown = {a.fingerprint for a in self._current}
        return [*self._current, *(a for fp, a in self.retired.items() if fp not in shown)]

    # --- restart -----------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        persist.save(self, Path(path))

    def load(self, path: str | Path) -> bool:
        """Restore the state saved by :meth:`save`; False when there is none. Call before the first evaluate."""
        return persist.load(self, Path(path))
