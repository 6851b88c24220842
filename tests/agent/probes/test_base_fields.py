from __future__ import annotations

from agent.probes.base import clean_fields


def test_clean_fields_drops_non_finite_and_none() -> None:
    fields = {"a": float("nan"), "b": 1.0, "c": float("inf"), "d": "x", "e": None}
    assert clean_fields(fields) == {"b": 1.0, "d": "x"}
