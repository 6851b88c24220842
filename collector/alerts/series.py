"""Per (rule, agent, target) state: the inactive -> pending -> firing -> clearing -> resolved machine,
the samples of an aggregation window, and the JSON form that survives a collector restart."""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from collector.alerts.rules import AggregateSpec, Rule


class State(StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    CLEARING = "clearing"
    RESOLVED = "resolved"


ACTIVE = (State.FIRING, State.CLEARING)


@dataclass(frozen=True)
class Subject:
    """Who sent the points (from the fleet inventory, never from the payload)."""

    agent: str
    commune: str
    commune_name: str
    province: str
    site: str
    role: str = "pc"  # 'pc' | 'gateway'
    isp: str = ""


@dataclass
class Series:
    rule_id: str
    agent: str
    target: str
    state: State = State.INACTIVE
    since: float | None = None
    """Pending since (when the condition became true) or clearing since (when the clear condition did)."""
    starts_at: float | None = None
    ends_at: float | None = None
    value: float | str | None = None
    last_t: float = 0.0
    tags: dict[str, str] = field(default_factory=dict)
    samples: list[tuple[float, float]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Series:
        data = dict(data)
        data["state"] = State(data["state"])
        data["samples"] = [(float(t), float(v)) for t, v in data.get("samples", [])]
        return cls(**data)

    # --- the state machine -------------------------------------------------------------------------------
    def step(self, rule: Rule, t: float, fires: bool, clears: bool) -> None:
        """A new evaluation of the condition at time t (a sample, or absence checked on the timer)."""
        if self.state in (State.INACTIVE, State.RESOLVED):
            if fires:
                self.state, self.since, self.starts_at, self.ends_at = State.PENDING, t, None, None
        elif self.state is State.PENDING:
            if not fires:
                self.state, self.since = State.INACTIVE, None
        elif self.state is State.FIRING:
            if clears:
                self.state, self.since = State.CLEARING, t
        elif self.state is State.CLEARING and not clears:
            self.state, self.since = State.FIRING, None
        self.advance(rule, t)

    def advance(self, rule: Rule, now: float) -> None:
        """Time-driven transitions: pending for ``for`` -> firing; clearing for ``clear_for`` -> resolved."""
        if self.state is State.PENDING and self.since is not None and now - self.since >= rule.spec.for_:
            self.state, self.starts_at = State.FIRING, self.since + rule.spec.for_
            self.since = None
        if self.state is State.CLEARING and self.since is not None and now - self.since >= rule.spec.clear_for:
            self.resolve(self.since + rule.spec.clear_for)

    def resolve(self, at: float) -> None:
        if self.state in ACTIVE:
            self.state, self.ends_at, self.since = State.RESOLVED, at, None
        elif self.state is State.PENDING:
            self.state, self.since = State.INACTIVE, None


def aggregate(spec: AggregateSpec, samples: list[tuple[float, float]], now: float) -> float | None:
    """The aggregate of the samples in (now - window, now]; None when the window is empty."""
    values = [v for t, v in samples if now - spec.window < t <= now]
    if not values:
        return None
    fn = spec.fn
    if fn == "avg":
        return sum(values) / len(values)
    if fn == "min":
        return min(values)
    if fn == "max":
        return max(values)
    if fn == "count":
        return float(len(values))
    if fn == "last":
        return values[-1]
    if fn == "increase":  # a counter: sum of the rises; a drop is a reset (restart) and counts from 0
        rise = 0.0
        for prev, cur in itertools.pairwise(values):
            rise += cur - prev if cur >= prev else cur
        return rise
    q = int(fn[1:]) / 100  # p50 / p90 / p95 / p99: nearest rank
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]
