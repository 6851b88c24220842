"""What every probe shares: its config base, its context (the outside world), its result shape.

A probe is a class with a ``Config`` (a msgspec Struct that forbids unknown keys) and an async
``collect()`` that returns points. A failed *target* is data: a point with ``result`` (a stable
result code), ``ok`` (1/0) and ``reason`` (a short human text). ``collect()`` should not raise; if it
does, the scheduler turns the exception into an ``agent_probe`` point and the other probes go on.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, ClassVar, Generic, TypeVar

import msgspec

from agent.units import Duration
from agent.wire import FieldValue, Point
from agent.wire.spec import MeasurementSpec

RESULT_OK = "ok"


class ProbeFailure(Exception):
    """A check of one target failed; ``code`` is the probe's result code, the message is the reason."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def clean_fields(fields: Mapping[str, FieldValue | None]) -> dict[str, FieldValue]:
    """Drop non-finite floats and None so every point the agent sends is encodable and valid; a str subclass (a
    result code's StrEnum member) becomes a plain str, the type the schema declares."""
    return {
        k: str(v) if isinstance(v, str) and type(v) is not str else v
        for k, v in fields.items()
        if v is not None and not (isinstance(v, float) and not math.isfinite(v))
    }


@dataclass(frozen=True)
class CheckLine:
    """One line of ``commune-agent check``: a probe's plain-language summary of its own points."""

    section: str  # Vietnamese section title, e.g. "Mạng", "Cổng dịch vụ", "Chữ ký số", "Thiết bị mạng"
    target: str  # what was checked (portal name, token label, router name...)
    status: str  # "ok", "warn" or "fail"
    text: str  # Vietnamese: what is wrong and the next step (empty when ok)


class ProbeConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Keys every probe accepts."""

    enabled: bool = True
    interval: Duration = Duration(60)
    timeout: Duration = Duration(20)
    retry_interval: Duration | None = None
    """After a round with a failed check (a point with ``ok`` = 0), run again this soon (``rechecks`` times in a
    row at most, then back to ``interval``) so an outage is confirmed quickly; unset: always ``interval``."""
    rechecks: Annotated[int, msgspec.Meta(ge=0, le=10)] = 2


def round_failed(points: list[Point]) -> bool:
    """Whether a round has a failed check (a point whose ``ok`` field is 0)."""
    return any(p.f.get("ok") == 0 for p in points if p.m != "agent_probe")


def wall_clock_ns() -> int:
    return time.time_ns()


@dataclass
class ProbeContext:
    """The outside world a probe may touch, passed in so tests can substitute real local parts."""

    agent_id: str
    clock_ns: Callable[[], int] = wall_clock_ns
    state_dir: Path = Path("state/agent")
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("agent.probe"))


C = TypeVar("C", bound=ProbeConfig)


class Probe(Generic[C]):
    """Base class. Subclasses set ``name`` and ``Config`` and implement ``collect``."""

    name: ClassVar[str]
    Config: ClassVar[type[ProbeConfig]]
    results: ClassVar[type[StrEnum] | None] = None
    """The probe's result codes (values of the ``result`` field), documented in docs/probes/<name>.md."""
    measurements: ClassVar[tuple[MeasurementSpec, ...]] = ()
    """Every measurement the probe sends (``agent.wire.spec``), exported by ``python -m agent.schema_export``."""

    def __init__(self, config: C, ctx: ProbeContext) -> None:
        self.config = config
        self.ctx = ctx

    async def collect(self) -> list[Point]:
        raise NotImplementedError

    @classmethod
    def check_lines(cls, points: list[Point]) -> list[CheckLine]:
        """Summarise this probe's points for ``commune-agent check`` (default: one line per failed target)."""
        lines = []
        for p in points:
            if p.m == "agent_probe" or "ok" not in p.f:
                continue
            target = next((p.tg[k] for k in ("service", "name", "target", "device", "token") if k in p.tg), p.m)
            ok = p.f.get("ok") == 1
            lines.append(CheckLine(cls.name, target, "ok" if ok else "fail", "" if ok else str(p.f.get("reason", ""))))
        return lines

    async def close(self) -> None:
        """Release what the probe holds (sockets, sessions). Default: nothing."""

    # helpers ------------------------------------------------------------------------------
    def point(
        self, measurement: str, fields: dict[str, FieldValue | None], tags: dict[str, str] | None = None,
        ts: int | None = None,
    ) -> Point:
        clean_tags = {k: v for k, v in (tags or {}).items() if v}
        return Point(
            m=measurement,
            t=self.ctx.clock_ns() if ts is None else ts,
            f=clean_fields(fields),
            tg=clean_tags,
        )


def result_fields(result: str, reason: str = "") -> dict[str, FieldValue | None]:
    """The three fields every per-target point carries (``result`` a plain str even for a StrEnum member, as
    the schema types it and as the collector receives it)."""
    return {"result": str(result), "ok": 1 if result == RESULT_OK else 0, "reason": reason}


E = TypeVar("E", bound=StrEnum)


def parse_result(results: type[E], value: object) -> E | None:
    """The member of ``results`` whose value is ``value`` (a point's ``result`` field), None if none is."""
    try:
        return results(str(value)) if isinstance(value, str) else None
    except ValueError:
        return None
