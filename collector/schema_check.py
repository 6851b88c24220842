"""Checks of one agent point against the measurement schema and the time window, before it is written.

Per point, not per batch: a bad point is rejected with a named reason (counted per agent and reason); the
good points of the same batch are written and the batch is acked (a rejection is final: resending the same
point would be rejected again).

Reasons: ``reserved_measurement`` (a name the collector writes itself), ``unknown_measurement``,
``unknown_tag``, ``unknown_field``, ``wrong_type``, ``int_range`` (outside int64), ``string_too_long``,
``too_old`` and ``in_future`` (the time window, docs/architecture.md "Time window").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, NamedTuple

from agent import wire
from collector.lineproto import STRING_ESCAPES, escape_key

INT64_MIN, INT64_MAX = wire.spec.INT64_MIN, wire.spec.INT64_MAX
FieldType = wire.spec.FieldType
RESERVED_MEASUREMENTS = wire.spec.RESERVED_MEASUREMENTS

POINT_REASONS: Final = ("reserved_measurement", "unknown_measurement", "unknown_tag", "unknown_field", "wrong_type",
                        "int_range", "string_too_long", "too_old", "in_future")


class PointRejected(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _type_name(value: object) -> str:
    return {bool: "bool", int: "int", float: "float", str: "str"}.get(type(value), type(value).__name__)


class SchemaChecker:
    """Validates a point's measurement, tag keys and field types; returns the fields to write (an int sent for a
    float field becomes a float, so InfluxDB never sees the field's type change)."""

    def __init__(self, schema: wire.Schema) -> None:
        self.schema = schema

    def fields(self, point: wire.Point) -> dict[str, wire.FieldValue]:
        m = point.m
        spec = self.schema.measurements.get(m)
        if spec is None:
            if m in RESERVED_MEASUREMENTS:
                raise PointRejected("reserved_measurement", f"measurement {m!r} is written by the collector only")
            raise PointRejected("unknown_measurement", f"measurement {m!r} is not in the schema")
        for key in point.tg:
            if key not in spec.tags:
                raise PointRejected("unknown_tag", f"{m}: tag {key!r} is not in the schema")
        out: dict[str, wire.FieldValue] = {}
        for key, value in point.f.items():
            field = spec.fields.get(key)
            if field is None:
                raise PointRejected("unknown_field", f"{m}: field {key!r} is not in the schema")
            t = type(value)
            ftype = field.type
            if ftype is FieldType.FLOAT:
                if t is int:
                    if not INT64_MIN <= value <= INT64_MAX:  # type: ignore[operator]
                        raise PointRejected("int_range", f"{m}.{key}: {value} is outside int64")
                    value = float(value)
                elif t is not float:
                    raise PointRejected("wrong_type", f"{m}.{key}: {_type_name(value)} for a float field")
            elif ftype is FieldType.INT:
                if t is not int:
                    raise PointRejected("wrong_type", f"{m}.{key}: {_type_name(value)} for an int field")
                if not INT64_MIN <= value <= INT64_MAX:  # type: ignore[operator]
                    raise PointRejected("int_range", f"{m}.{key}: {value} is outside int64")
            elif ftype is FieldType.BOOL:
                if t is not bool:
                    raise PointRejected("wrong_type", f"{m}.{key}: {_type_name(value)} for a bool field")
            else:
                if t is not str:
                    raise PointRejected("wrong_type", f"{m}.{key}: {_type_name(value)} for a str field")
                if len(value) > field.str_limit:  # type: ignore[arg-type]
                    raise PointRejected("string_too_long", f"{m}.{key}: {len(value)} characters, "  # type: ignore[arg-type]
                                        f"limit {field.str_limit}")
            out[key] = value
        return out


FLOAT_FIELD, INT_FIELD, BOOL_FIELD, STR_FIELD = 0, 1, 2, 3
"""``FieldPlan.kind``."""


class FieldPlan(NamedTuple):
    """How one schema field is checked and written: its kind, its escaped ``key=`` and its length limit."""

    kind: int
    eq: str
    limit: int


_KINDS: Final = {FieldType.FLOAT: FLOAT_FIELD, FieldType.INT: INT_FIELD, FieldType.BOOL: BOOL_FIELD,
                 FieldType.STR: STR_FIELD}


def compile_fields(schema: wire.Schema) -> dict[str, tuple[frozenset[str], dict[str, FieldPlan]]]:
    """Per measurement: its tag keys and its fields' plans."""
    return {name: (frozenset(spec.tags), {key: FieldPlan(_KINDS[f.type], escape_key(key) + "=", f.str_limit)
                                          for key, f in spec.fields.items()})
            for name, spec in schema.measurements.items()}


def format_fields(plan: Iterable[FieldPlan], values: Iterable[object]) -> str | None:
    """The line's field part for ``values`` (in ``plan``'s order), or None when one is not plainly valid (a wrong
    type, outside int64, not finite, too long)."""
    parts = []
    for (kind, eq, limit), value in zip(plan, values, strict=True):
        t = type(value)
        if kind == FLOAT_FIELD:
            if t is float:
                if value - value != 0.0:  # type: ignore[operator]  # inf or nan
                    return None
                parts.append(eq + repr(value))
            elif t is int and INT64_MIN <= value <= INT64_MAX:  # type: ignore[operator]
                parts.append(eq + repr(float(value)))  # type: ignore[arg-type]
            else:
                return None
        elif kind == INT_FIELD:
            if t is not int or not INT64_MIN <= value <= INT64_MAX:  # type: ignore[operator]
                return None
            parts.append(f"{eq}{value}i")
        elif kind == BOOL_FIELD:
            if t is not bool:
                return None
            parts.append(eq + ("true" if value else "false"))
        else:
            if t is not str or len(value) > limit:  # type: ignore[arg-type]
                return None
            parts.append(eq + '"' + value.translate(STRING_ESCAPES) + '"')  # type: ignore[attr-defined]
    return ",".join(parts)


class FieldEncoder:
    """The hot path: ``SchemaChecker.fields`` and the line-protocol field encoding fused into one pass over a
    point's fields, with each measurement's tag set and each field's kind, ``key=`` text and length limit
    precomputed. ``encode`` returns the line's field part, or None when the point is not plainly valid (the
    caller then takes the general path, which rejects it with its reason or converts what needs it): so a
    point is written exactly as ``SchemaChecker.fields`` + ``LineEncoder`` would write it."""

    def __init__(self, schema: wire.Schema) -> None:
        self._compiled = compile_fields(schema)

    def encode(self, point: wire.Point) -> str | None:
        compiled = self._compiled.get(point.m)
        if compiled is None:
            return None
        tags, fields = compiled
        tg = point.tg
        if tg and not tags.issuperset(tg):
            return None
        plan = [fields.get(key) for key in point.f]
        if None in plan:
            return None
        return format_fields(plan, point.f.values())  # type: ignore[arg-type]


@dataclass(frozen=True)
class TimeWindow:
    """Where an agent's point may land in time (docs/architecture.md, "Time window").

    ``shift_ns``: the batch's ``clock_offset_ms`` (collector clock - agent clock, fixed when the agent built the
    batch, so a resend is identical) is applied when it exceeds ``clock_skew_max``; below that the agent's own
    time is kept. ``place``: the stored time, or ``too_old`` / ``in_future`` against the collector's clock."""

    clock_skew_max_s: float = 30.0
    max_point_age_s: float = 7 * 86400.0 + 3600.0
    max_future_s: float = 300.0

    def shift_ns(self, clock_offset_ms: float | None) -> int:
        if clock_offset_ms is None or abs(clock_offset_ms) <= self.clock_skew_max_s * 1000.0:
            return 0
        return round(clock_offset_ms * 1_000_000)

    def bounds_ns(self, now_ns: int) -> tuple[int, int]:
        """The stored times ``place`` accepts at ``now_ns``, inclusive."""
        return now_ns - int(self.max_point_age_s * 1e9), now_ns + int(self.max_future_s * 1e9)

    def place(self, t_ns: int, shift_ns: int, now_ns: int) -> int:
        t = t_ns + shift_ns
        if t < now_ns - int(self.max_point_age_s * 1e9):
            raise PointRejected("too_old", f"time {t} ns is more than {self.max_point_age_s:g}s before "
                                f"the collector's clock ({now_ns})")
        if t > now_ns + int(self.max_future_s * 1e9):
            raise PointRejected("in_future", f"time {t} ns is more than {self.max_future_s:g}s after "
                                f"the collector's clock ({now_ns})")
        return t


class RateLimitedLog:
    """At most one log line per key (e.g. agent and reason) per ``interval`` seconds; the next line says how many
    were left out. Keys are bounded (``max_keys``): beyond that the table starts over."""

    def __init__(self, logger: logging.Logger, interval: float = 10.0, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.interval = interval
        self.max_keys = max_keys
        self.clock = clock
        self._last: dict[object, tuple[float, int]] = {}  # key -> (time of the last line, lines left out since)

    def warning(self, key: object, msg: str, *args: object) -> bool:
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last[0] < self.interval:
            self._last[key] = (last[0], last[1] + 1)
            return False
        if last is None and len(self._last) >= self.max_keys:
            self._last.clear()
        suppressed = last[1] if last else 0
        self._last[key] = (now, 0)
        self.logger.warning(msg + (f" ({suppressed} similar lines left out)" if suppressed else ""), *args)
        return True
