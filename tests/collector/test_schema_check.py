"""Schema and time-window checks of single points, and the Validator keeping a batch's good points."""

from __future__ import annotations

import logging

import pytest

from agent import wire
from collector.config import parse_inventory
from collector.schema_check import PointRejected, RateLimitedLog, SchemaChecker, TimeWindow
from collector.validate import Validator

CHECK = SchemaChecker(wire.measurement_schema())
NOW = 1_800_000_000 * 10**9
S = 10**9


def reason(point: wire.Point) -> str:
    with pytest.raises(PointRejected) as exc:
        CHECK.fields(point)
    return exc.value.reason


def ping(f: dict[str, wire.FieldValue], tg: dict[str, str] | None = None, m: str = "ping") -> wire.Point:
    return wire.Point(m=m, t=NOW, f=f, tg={"target": "1.1.1.1"} if tg is None else tg)


def test_a_declared_point_passes_and_an_int_for_a_float_field_becomes_a_float() -> None:
    out = CHECK.fields(ping({"sent": 3, "loss_percent": 0, "result": "ok", "ok": 1, "reason": ""}))
    assert out == {"sent": 3, "loss_percent": 0.0, "result": "ok", "ok": 1, "reason": ""}
    assert type(out["loss_percent"]) is float and type(out["sent"]) is int


@pytest.mark.parametrize(("point", "why"), [
    (ping({"v": 1.0}, {}, m="collector"), "reserved_measurement"),
    (ping({"v": 1.0}, {}, m="agent_status"), "reserved_measurement"),
    (ping({"v": 1.0}, {}, m="agent_clock"), "reserved_measurement"),
    (ping({"v": 1.0}, {}, m="alerts"), "reserved_measurement"),
    (ping({"v": 1.0}, {}, m="poison"), "unknown_measurement"),
    (ping({"sent": 1}, {"target": "a", "colour": "red"}), "unknown_tag"),
    (ping({"x": 1.0}), "unknown_field"),
    (ping({"loss_percent": "x"}), "wrong_type"),
    (ping({"loss_percent": True}), "wrong_type"),
    (ping({"sent": 1.5}), "wrong_type"),
    (ping({"sent": True}), "wrong_type"),
    (ping({"result": 1}), "wrong_type"),
    (ping({"sent": 2**63}), "int_range"),
    (ping({"sent": -(2**63) - 1}), "int_range"),
    (ping({"loss_percent": 2**64}), "int_range"),
    (ping({"result": "x" * 65}), "string_too_long"),
    (ping({"reason": "x" * 1025}), "string_too_long"),
])
def test_points_outside_the_schema_are_rejected_with_a_named_reason(point: wire.Point, why: str) -> None:
    assert reason(point) == why


def test_int64_bounds_are_accepted() -> None:
    assert CHECK.fields(ping({"sent": 2**63 - 1}))["sent"] == 2**63 - 1
    assert CHECK.fields(ping({"sent": -(2**63)}))["sent"] == -(2**63)


@pytest.mark.parametrize("bad", ["ping\n", "a b"])
def test_names_with_a_trailing_newline_do_not_decode(bad: str) -> None:
    import msgspec
    payload = msgspec.json.encode({"v": 1, "agent": "pc-a", "seq": 1, "sent": 1,
                                   "points": [{"m": bad, "t": 1, "f": {"sent": 1}}]})
    with pytest.raises(wire.WireError):
        wire.decode_batch(payload)
    tag = msgspec.json.encode({"v": 1, "agent": "pc-a", "seq": 1, "sent": 1,
                               "points": [{"m": "ping", "t": 1, "f": {"sent": 1}, "tg": {"target": "z\n"}}]})
    with pytest.raises(wire.WireError):
        wire.decode_batch(tag)
    assert not wire.is_valid_agent_id("pc-a\n")
    with pytest.raises(wire.WireError):
        wire.parse_topic("cm/v1/pc-a\n/metrics")


def test_time_window_rejects_too_old_and_in_future_and_keeps_the_edges() -> None:
    w = TimeWindow(clock_skew_max_s=30, max_point_age_s=7 * 86400 + 3600, max_future_s=300)
    assert w.place(NOW - (7 * 86400 + 3600) * S, 0, NOW) == NOW - (7 * 86400 + 3600) * S
    assert w.place(NOW + 300 * S, 0, NOW) == NOW + 300 * S
    for t in (0, 1, 946_684_800 * S, NOW - (7 * 86400 + 3601) * S):
        with pytest.raises(PointRejected, match="too_old"):
            w.place(t, 0, NOW)
    for t in (NOW + 301 * S, 32_503_680_000 * S, 2**62):
        with pytest.raises(PointRejected, match="in_future"):
            w.place(t, 0, NOW)


def test_the_clock_offset_is_applied_only_beyond_clock_skew_max() -> None:
    w = TimeWindow(clock_skew_max_s=30)
    assert w.shift_ns(None) == 0 and w.shift_ns(29_000.0) == 0 and w.shift_ns(-30_000.0) == 0
    assert w.shift_ns(120_000.0) == 120 * S and w.shift_ns(-3600_000.0) == -3600 * S
    # a PC whose clock is a day behind: its points land at the collector's time, not rejected as too old
    agent_time = NOW - 86400 * S
    assert w.place(agent_time, w.shift_ns(86400_000.0), NOW) == NOW
    # a PC a year ahead: corrected back instead of rejected as in the future
    assert w.place(NOW + 365 * 86400 * S, w.shift_ns(-365 * 86400_000.0), NOW) == NOW


def test_validator_keeps_the_good_points_of_a_batch_and_counts_the_bad_ones() -> None:
    inv = parse_inventory({"agents": {"pc-a": {"commune": "07900"}}}, "test")
    v = Validator(inv, clock_ns=lambda: NOW)
    identity, _ = v.identify("cm/v1/pc-a/metrics")
    points = [
        wire.Point(m="synthetic", t=NOW, f={"n": 1, "value": 1}, tg={"run": "r", "series": "s0"}),
        wire.Point(m="synthetic", t=NOW, f={"n": "x"}, tg={"run": "r", "series": "s0"}),
        wire.Point(m="collector", t=NOW, f={"received": 1}),
        wire.Point(m="synthetic", t=0, f={"n": 2}, tg={"run": "r", "series": "s0"}),
        wire.Point(m="synthetic", t=NOW + 1, f={"n": 3}, tg={"run": "r", "series": "s0"}),
    ]
    acc = v.metrics(identity, wire.encode(wire.Batch(v=1, agent="pc-a", seq=7, sent=NOW, points=points)))
    assert acc.seq == 7 and len(acc.lines) == 2
    assert acc.lines[0].endswith(b" n=1i,value=1.0 %d" % NOW)
    assert dict(acc.rejected) == {"wrong_type": 1, "reserved_measurement": 1, "too_old": 1}
    # a batch of only bad points is still accepted (and so acked): the rejection is final
    only_bad = v.metrics(identity, wire.encode(wire.Batch(v=1, agent="pc-a", seq=8, sent=NOW, points=points[1:3])))
    assert only_bad.lines == [] and sum(only_bad.rejected.values()) == 2


def test_rate_limited_log_counts_what_it_leaves_out(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    rl = RateLimitedLog(logging.getLogger("test.ratelog"), interval=10.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, "test.ratelog"):
        assert rl.warning(("a", "wrong_type"), "bad point %d", 1)
        assert not rl.warning(("a", "wrong_type"), "bad point %d", 2)
        assert not rl.warning(("a", "wrong_type"), "bad point %d", 3)
        assert rl.warning(("b", "wrong_type"), "other agent %d", 1)
        now[0] = 11.0
        assert rl.warning(("a", "wrong_type"), "bad point %d", 4)
    assert [r.getMessage() for r in caplog.records] == [
        "bad point 1", "other agent 1", "bad point 4 (2 similar lines left out)"]


def _general_path(v: Validator, agent: str, point: wire.Point) -> bytes:
    identity = v.inventory.get(agent)
    assert identity is not None
    return v.encoder.point_line(agent, identity.tags(), point.m, point.tg, CHECK.fields(point), point.t).encode()


@pytest.mark.parametrize("point", [
    wire.Point(m="http", t=NOW, f={"status_code": 200, "total_ms": 12, "dns_ms": 0.25, "result": 'a "q" \\ b\nc',
                                   "ok": 1, "reason": ""}, tg={"service": "dịch vụ công, a=b c",
                                                                "url": "https://x/?a=1"}),
    wire.Point(m="host_disk", t=NOW, f={"total_bytes": 2**63 - 1, "used_bytes": -(2**63), "percent": 1e300, "error": ""},
               tg={"path": "C:\\"}),
    wire.Point(m="synthetic", t=NOW - 5 * S, f={"n": 0, "value": -0.0}, tg={"run": "r", "series": "s0"}),
])
def test_the_fused_check_and_encoding_writes_what_the_general_path_writes(point: wire.Point) -> None:
    inv = parse_inventory({"agents": {"pc-a": {"commune": "07900", "site": "điểm 2"}}}, "test")
    v = Validator(inv, clock_ns=lambda: NOW)
    assert v.fast_fields.encode(point) is not None  # the point takes the fused path
    acc = v.metrics(inv.agents["pc-a"], wire.encode(wire.Batch(v=1, agent="pc-a", seq=1, sent=NOW, points=[point])))
    assert acc.lines == [_general_path(Validator(inv, clock_ns=lambda: NOW), "pc-a", point)]


@pytest.mark.parametrize("point", [
    ping({"sent": 2**63}), ping({"sent": 1.5}), ping({"result": "x" * 5000}), ping({"nope": 1}),
    ping({"sent": 1}, tg={"nope": "x"}), ping({"n": 1}, m="nope"), ping({"sent": True}),
])
def test_points_that_are_not_plainly_valid_leave_the_fused_path(point: wire.Point) -> None:
    inv = parse_inventory({"agents": {"pc-a": {"commune": "07900"}}}, "test")
    assert Validator(inv).fast_fields.encode(point) is None


def test_points_of_an_agent_older_than_a_rename_are_written_under_the_new_names() -> None:
    inv = parse_inventory({"agents": {"pc-a": {"commune": "07900"}}}, "test")
    v = Validator(inv, clock_ns=lambda: NOW)
    identity, _ = v.identify("cm/v1/pc-a/metrics")
    old = [
        wire.Point(m="host", t=NOW, f={"mem_total": 8, "mem_available": 6, "mem_used": 2, "boot_time": 5}),
        wire.Point(m="host_disk", t=NOW, f={"total": 10, "used": 4, "free": 6, "percent": 40.0}, tg={"path": "/"}),
        wire.Point(m="http", t=NOW, f={"ok": 1, "result": "ok", "reason": ""},
                   tg={"service": "dvc", "label": "dvc", "url": "https://x/"}),
    ]
    acc = v.metrics(identity, wire.encode(wire.Batch(v=1, agent="pc-a", seq=1, sent=NOW, points=old)))
    assert dict(acc.rejected) == {}
    host, disk, http = (line.decode() for line in acc.lines)
    assert "mem_total_bytes=8i,mem_available_bytes=6i,mem_used_bytes=2i,boot_time_s=5i" in host
    assert "total_bytes=10i,used_bytes=4i,free_bytes=6i" in disk
    assert "label=" not in http and "service=dvc" in http
    assert [p.f for p in acc.points[:1]] == [{"mem_total_bytes": 8, "mem_available_bytes": 6, "mem_used_bytes": 2,
                                             "boot_time_s": 5}]
    # the old names themselves are no longer in the schema
    assert reason(wire.Point(m="host", t=NOW, f={"mem_total_bytes": 1, "bogus": 1})) == "unknown_field"
    assert "mem_total" not in wire.measurement_schema().measurements["host"].fields
