"""Compiled line formatters write what ``format_fields`` writes, and refuse what it refuses."""

from __future__ import annotations

import pytest

from collector.line_format import MAX_FIELDS, formatter, template
from collector.schema_check import BOOL_FIELD, FLOAT_FIELD, INT_FIELD, STR_FIELD, FieldPlan, format_fields

PLAN = (FieldPlan(INT_FIELD, "n=", 1024), FieldPlan(FLOAT_FIELD, "v=", 1024), FieldPlan(BOOL_FIELD, "b=", 1024),
        FieldPlan(STR_FIELD, "s\\ x=", 5))
PREFIX = "m,t=a\\ {0}%d "


@pytest.mark.parametrize("values", [
    {"n": 0, "v": -0.0, "b": True, "s": ""}, {"n": -(2**63), "v": 1e300, "b": False, "s": 'ờ"\\\n'},
    {"n": 2**63 - 1, "v": 0.1, "b": True, "s": "abcde"},
])
def test_a_compiled_formatter_writes_what_format_fields_writes(values: dict[str, object]) -> None:
    fmt = formatter(PLAN)
    assert fmt is not None
    expected = f"{PREFIX}{format_fields(PLAN, values.values())} 7".encode()
    assert fmt(template(PREFIX, PLAN), values, 7) == expected


@pytest.mark.parametrize("values", [
    {"n": True, "v": 1.0, "b": True, "s": ""}, {"n": 1.0, "v": 1.0, "b": True, "s": ""},
    {"n": 2**63, "v": 1.0, "b": True, "s": ""}, {"n": -(2**63) - 1, "v": 1.0, "b": True, "s": ""},
    {"n": 1, "v": float("inf"), "b": True, "s": ""}, {"n": 1, "v": float("nan"), "b": True, "s": ""},
    {"n": 1, "v": 1, "b": True, "s": ""}, {"n": 1, "v": 1.0, "b": 1, "s": ""}, {"n": 1, "v": 1.0, "b": True, "s": 1},
    {"n": 1, "v": 1.0, "b": True, "s": "abcdef"},
])
def test_a_compiled_formatter_refuses_what_is_not_plainly_valid(values: dict[str, object]) -> None:
    fmt = formatter(PLAN)
    assert fmt is not None and fmt(template(PREFIX, PLAN), values, 7) is None


def test_formatters_are_shared_per_kind_sequence_and_wide_points_have_none() -> None:
    assert formatter(PLAN) is formatter(tuple(p._replace(eq="other=") for p in PLAN))
    assert formatter((FieldPlan(INT_FIELD, "n=", 1024),) * (MAX_FIELDS + 1)) is None
    one = formatter((FieldPlan(FLOAT_FIELD, "v=", 1024),))
    assert one is not None and one(b"m %a %d", {"v": 2.5}, 1) == b"m 2.5 1"
