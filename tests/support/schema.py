"""Check the points a probe really produced against the measurement schema the collector enforces."""

from __future__ import annotations

from agent import wire
from collector.schema_check import PointRejected, SchemaChecker

_checker = SchemaChecker(wire.measurement_schema())


def schema_problems(points: list[wire.Point]) -> list[str]:
    problems = []
    for p in points:
        try:
            _checker.fields(p)
        except PointRejected as exc:
            problems.append(f"{p.m} {dict(p.tg)} {dict(p.f)}: {exc}")
    return problems


def conforming(points: list[wire.Point]) -> list[wire.Point]:
    """``points``, after asserting that the collector would accept every one of them (schema, not time)."""
    problems = schema_problems(points)
    assert problems == [], "points the collector would reject:\n" + "\n".join(problems)
    return points
