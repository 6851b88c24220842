"""Compiled line writers write what ``format_fields`` writes, and refuse what it refuses."""

from __future__ import annotations

import pytest

from collector.line_format import MAX_FIELDS, NotPlain, writer
from collector.schema_check import BOOL_FIELD, FLOAT_FIELD, INT_FIELD, STR_FIELD, FieldPlan, format_fields

PLAN = (FieldPlan(INT_FIELD, "n=", 1024), FieldPlan(FLOAT_FIELD, "v=", 1024), FieldPlan(BOOL_FIELD, "b=", 1024),
        FieldPlan(STR_FIELD, "s\\ x=", 5))
PREFIX = "m,t=a\\ {0}%d %b "


@pytest.mark.parametrize("values", [
    {"n": 0, "v": -0.0, "b": True, "s": ""}, {"n": -(2**63), "v": 1e300, "b": False, "s": 'ờ"\\\n'},
    {"n": 2**63 - 1, "v": 0.1, "b": True, "s": "abcde"},
    {"n": 1, "v": 3, "b": True, "s": ""},  # an int for a float field: written as a float
])
def test_a_compiled_writer_writes_what_format_fields_writes(values: dict[str, object]) -> None:
    expected = f"{PREFIX}{format_fields(PLAN, values.values())} 7".encode()
    assert writer(PLAN)(PREFIX.encode(), values, 7) == expected


@pytest.mark.parametrize("values", [
    {"n": True, "v": 1.0, "b": True, "s": ""}, {"n": 1.0, "v": 1.0, "b": True, "s": ""},
    {"n": 2**63, "v": 1.0, "b": True, "s": ""}, {"n": -(2**63) - 1, "v": 1.0, "b": True, "s": ""},
    {"n": 1, "v": float("inf"), "b": True, "s": ""}, {"n": 1, "v": float("nan"), "b": True, "s": ""},
    {"n": 1, "v": 2**63, "b": True, "s": ""}, {"n": 1, "v": 1.0, "b": 1, "s": ""},
    {"n": 1, "v": 1.0, "b": True, "s": 1}, {"n": 1, "v": 1.0, "b": True, "s": "abcdef"},
])
def test_a_compiled_writer_refuses_what_is_not_plainly_valid(values: dict[str, object]) -> None:
    assert format_fields(PLAN, values.values()) is None
    with pytest.raises(NotPlain):
        writer(PLAN)(PREFIX.encode(), values, 7)


def test_wide_points_get_the_generic_writer() -> None:
    wide = (FieldPlan(INT_FIELD, "n=", 1024),) * (MAX_FIELDS + 1)
    assert writer(wide)(b"m ", dict.fromkeys(range(MAX_FIELDS + 1), 1), 5) == b"m " + b",".join([b"n=1i"] * 17) + b" 5"
    assert writer((FieldPlan(FLOAT_FIELD, "v=", 1024),))(b"m ", {"v": 2.5}, 1) == b"m v=2.5 1"
