"""ProbeFailure and clean_fields from agent.probes.base."""

from __future__ import annotations

import math

import pytest

from agent.probes.base import ProbeFailure, clean_fields, result_fields


def test_probe_failure_carries_code_and_reason() -> None:
    with pytest.raises(ProbeFailure) as info:
        raise ProbeFailure("timeout", "no answer from 127.0.0.1 within 1s")
    assert info.value.code == "timeout"
    assert info.value.reason == "no answer from 127.0.0.1 within 1s"
    assert str(info.value) == "no answer from 127.0.0.1 within 1s"


def test_clean_fields_drops_none_nan_and_inf() -> None:
    fields = {"a": None, "b": math.nan, "c": math.inf, "d": -math.inf}
    assert clean_fields(fields) == {}


def test_clean_fields_keeps_everything_else() -> None:
    fields = {"f": 1.5, "zero": 0.0, "neg": -2.0, "i": 0, "s": "", "t": "text", "b": False, "max": 1e308}
    assert clean_fields(fields) == fields


def test_result_fields_ok_only_for_ok() -> None:
    assert result_fields("ok") == {"result": "ok", "ok": 1, "reason": ""}
    assert result_fields("timeout", "late") == {"result": "timeout", "ok": 0, "reason": "late"}
