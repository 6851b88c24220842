"""Alert rules in YAML -> typed, validated rules. Every error names the file and the field, e.g.
``alert-rules.yaml: rules[3].for: expected a duration like '30s', '5m', '2h', got 'soon'``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from collector.alerts.calendar import CalendarConfig
from collector.alerts.template import check_template
from collector.errors import ConfigError
from common.config_errors import describe_validation_error
from common.yaml_file import read_yaml

DEFAULT_RULES = Path(__file__).resolve().parents[1] / "defaults" / "alert-rules.yaml"

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_COND_RE = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(\S+)\s*$")
_WORD_RE = re.compile(r"^[A-Za-z0-9_.:-]+$")

# Labels the engine sets itself (the contract); a rule's `labels:` may not override them.
CONTRACT_LABELS = frozenset({
    "alertname", "severity", "province", "commune", "commune_name", "site", "agent", "target", "service",
    "isp", "kind", "incident_id", "scope", "escalated",
})


class Dur(float):
    """Seconds; YAML accepts 90, "30s", "5m", "2h", "7d"."""


def _dec_hook(type_: type, value: Any) -> Any:
    if type_ is Dur:
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return Dur(value)
        if isinstance(value, str):
            m = _DURATION_RE.match(value)
            if m:
                return Dur(float(m.group(1)) * _UNITS[m.group(2)])
        raise ValueError(f"expected a duration like '30s', '5m', '2h', got {value!r}")
    raise NotImplementedError(type_)


CamelName = Annotated[str, msgspec.Meta(pattern=r"^[A-Z][A-Za-z0-9]{1,63}$")]
Ident = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class AggregateSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    fn: Literal["avg", "min", "max", "count", "p50", "p90", "p95", "p99", "increase", "last"]
    window: Dur


class RuleSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, rename={"for_": "for"}):
    name: CamelName
    """The alertname. Several rules may share it (e.g. one per severity); their ids must differ."""
    id: str = ""
    """Unique rule id (default: the name)."""
    measurement: Ident
    field: str = ""
    match: dict[str, str | list[str]] = msgspec.field(default_factory=dict)
    """Tag matchers: a value or a list of accepted values; a value starting with ``!`` excludes it."""
    target: list[Ident] = msgspec.field(default_factory=list)
    """Tags whose values (joined with ``/``) form the ``target`` label; one series per target."""
    service_tag: str = ""
    """Tag whose value becomes the ``service`` label (portal rules)."""
    when: str = ""
    clear_when: str = ""
    """The clear condition (hysteresis); default: ``when`` is false."""
    abs: bool = False
    aggregate: AggregateSpec | None = None
    absent: Dur | None = None
    """Fire when no point of ``measurement`` (matching ``match``) arrived for this long."""
    for_: Dur = Dur(0)
    clear_for: Dur = Dur(0)
    stale_after: Dur = Dur(900)
    """A series without a point for this long is dropped (the agent's silence is an ``absent`` rule's job)."""
    severity: Literal["info", "warning", "critical"] = "warning"
    labels: dict[str, str] = msgspec.field(default_factory=dict)
    scope: Literal["agent", "site", "commune"] = "agent"
    office_hours_only: bool = False
    applies_to: list[Literal["pc", "gateway"]] = msgspec.field(default_factory=lambda: ["pc", "gateway"])
    escalate_after: Dur | None = None
    unit: str = ""
    decimals: Annotated[int, msgspec.Meta(ge=0, le=6)] = 1
    summary: Annotated[str, msgspec.Meta(min_length=1)]
    description: Annotated[str, msgspec.Meta(min_length=1)]
    runbook: str = ""


class CorrelationSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    portal_alertname: str = "PortalDown"
    portal_min_communes: Annotated[int, msgspec.Meta(ge=2)] = 5
    """A portal failing in at least this many communes is one provincial incident ..."""
    portal_min_fraction: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.3
    """... or in at least this fraction of the communes that watch it (and at least 2)."""
    target_alertname: str = "TargetUnreachable"
    """The per-target ping rule whose failures (gateway and every external target) make a SiteLinkDown."""
    gateway_role: str = "gateway"
    symptom_alertnames: list[str] = msgspec.field(default_factory=lambda: [
        "TargetUnreachable", "HighLoss", "DnsFailing", "PortalDown", "PortalSlow"])
    """Per-target alerts of a site whose link is down are marked as its symptoms."""
    isp_min_sites: Annotated[int, msgspec.Meta(ge=2)] = 3
    """This many sites on the same ISP with their link down at once is one IspOutage incident."""


class RulesFileSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    calendar: CalendarConfig = msgspec.field(default_factory=CalendarConfig)
    correlation: CorrelationSpec = msgspec.field(default_factory=CorrelationSpec)
    outside_office_hours: Literal["resolve", "hold"] = "resolve"
    """What a firing office-hours-only alert does when office hours end: resolve, or hold (frozen) until
    office hours resume and the rule is evaluated again."""
    resolved_retention: Dur = Dur(900)
    """How long a resolved alert stays in active_alerts() (with endsAt) for the poster."""
    rules: list[RuleSpec] = msgspec.field(default_factory=list)


_ORDER_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
_EQ_OPS: dict[str, Callable[[Any, Any], bool]] = {"==": operator.eq, "!=": operator.ne}


@dataclass(frozen=True)
class Condition:
    op: str
    value: float | str

    def __call__(self, value: float | str) -> bool:
        if isinstance(self.value, str) or isinstance(value, str):
            if self.op not in _EQ_OPS:
                return False
            return _EQ_OPS[self.op](str(value), str(self.value))
        return {**_ORDER_OPS, **_EQ_OPS}[self.op](value, self.value)

    def __str__(self) -> str:
        return f"{self.op} {self.value}"


def parse_condition(text: str) -> Condition:
    m = _COND_RE.match(text)
    if not m:
        raise ValueError(f"expected '<op> <value>' with op one of > >= < <= == !=, got {text!r}")
    op, raw = m.groups()
    try:
        return Condition(op, float(raw))
    except ValueError:
        pass
    if not _WORD_RE.match(raw):
        raise ValueError(f"value {raw!r} is neither a number nor a result code")
    if op not in _EQ_OPS:
        raise ValueError(f"{op!r} needs a number, got {raw!r}")
    return Condition(op, raw)


@dataclass(frozen=True)
class Rule:
    spec: RuleSpec
    id: str
    fire: Condition | None
    clear: Condition | None
    matchers: tuple[tuple[str, frozenset[str], bool], ...]  # (tag, values, negated)

    @property
    def name(self) -> str:
        return self.spec.name

    def matches(self, tags: dict[str, str]) -> bool:
        for tag, values, negated in self.matchers:
            present = tags.get(tag, "") in values
            if present == negated:
                return False
        return True

    def fires(self, value: float | str) -> bool:
        return self.fire is not None and self.fire(value)

    def clears(self, value: float | str) -> bool:
        if self.clear is not None:
            return self.clear(value)
        return not self.fires(value)


@dataclass(frozen=True)
class RuleSet:
    source: str
    spec: RulesFileSpec
    rules: tuple[Rule, ...]


def _matchers(match: dict[str, str | list[str]]) -> tuple[tuple[str, frozenset[str], bool], ...]:
    out = []
    for tag, raw in match.items():
        values = [raw] if isinstance(raw, str) else raw
        negated = bool(values) and all(v.startswith("!") for v in values)
        out.append((tag, frozenset(v.removeprefix("!") for v in values), negated))
    return tuple(out)


def _build_rule(spec: RuleSpec, where: str) -> Rule:
    def fail(field: str, what: str) -> ConfigError:
        return ConfigError(f"{where}.{field}: {what}")

    if spec.absent is not None:
        for field, value in (("field", spec.field), ("when", spec.when), ("clear_when", spec.clear_when)):
            if value:
                raise fail(field, "not allowed on an 'absent' rule (it fires on no data)")
        if spec.aggregate is not None:
            raise fail("aggregate", "not allowed on an 'absent' rule (it fires on no data)")
        if spec.absent <= 0:
            raise fail("absent", "must be more than 0")
    else:
        if not spec.field:
            raise fail("field", "required key is missing (or set 'absent')")
        if not spec.when:
            raise fail("when", "required key is missing (or set 'absent')")
    conditions = []
    for field in ("when", "clear_when"):
        text = getattr(spec, field)
        try:
            conditions.append(parse_condition(text) if text else None)
        except ValueError as exc:
            raise fail(field, str(exc)) from None
    reserved = sorted(CONTRACT_LABELS.intersection(spec.labels))
    if reserved:
        raise fail(f"labels.{reserved[0]}", "set by the engine (contract label); choose another name")
    if not spec.applies_to:
        raise fail("applies_to", "must name at least one role (pc, gateway)")
    if spec.aggregate is not None and spec.aggregate.window <= 0:
        raise fail("aggregate.window", "must be more than 0")
    for field in ("summary", "description", "runbook"):
        try:
            check_template(getattr(spec, field))
        except ValueError as exc:
            raise fail(field, str(exc)) from None
    return Rule(spec, spec.id or spec.name, conditions[0], conditions[1], _matchers(spec.match))


def parse_rules(data: Any, source: str) -> RuleSet:
    name = source
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: (top level): expected a mapping, got {type(data).__name__}")
    try:
        spec = msgspec.convert(data, RulesFileSpec, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        field, what = describe_validation_error(exc)
        raise ConfigError(f"{name}: {field}: {what}") from None
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for i, rspec in enumerate(spec.rules):
        try:
            rule = _build_rule(rspec, f"rules[{i}]")
        except ConfigError as exc:
            raise ConfigError(f"{name}: {exc}") from None
        if rule.id in seen:
            raise ConfigError(f"{name}: rules[{i}].id: rule id {rule.id!r} is already used by rules[{seen[rule.id]}]"
                              " (give rules that share a name distinct ids)")
        seen[rule.id] = i
        rules.append(rule)
    return RuleSet(name, spec, tuple(rules))


def load_rules(path: str | Path = DEFAULT_RULES) -> RuleSet:
    path = Path(path)
    return parse_rules(read_yaml(path, ConfigError), str(path))
