"""The plain-batch path (cached point shapes) accepts only what the general path accepts and writes the same bytes;
every batch it leaves gets the general path's own result or rejection; its cache stays bounded."""

from __future__ import annotations

import pytest

from agent import wire
from collector.config import AgentIdentity, Inventory, parse_inventory
from collector.limits import AgentLimits, LimitsSection, series_key
from collector.validate import Accepted, Validator

NOW = 1_800_000_000 * 10**9
S = 10**9
INV = parse_inventory({"agents": {"pc-a": {"commune": "07900", "site": "điểm {2} 100%"},
                                   "pc-b": {"commune": "07900"}}}, "test")


def _validator(inv: Inventory = INV, **kw: int) -> Validator:
    v = Validator(inv, clock_ns=lambda: NOW)
    if kw:
        v.plain.max_shapes = kw.get("max_shapes", v.plain.max_shapes)
        v.plain.max_prefix = kw.get("max_prefix", v.plain.max_prefix)
    return v


def _identity(agent: str = "pc-a") -> AgentIdentity:
    identity = INV.get(agent)
    assert identity is not None
    return identity


def _payload(points: list[wire.Point], agent: str = "pc-a", seq: int = 1, **kw: object) -> bytes:
    return wire.encode(wire.Batch(v=1, agent=agent, seq=seq, sent=NOW, points=points, **kw))  # type: ignore[arg-type]


def _general(payload: bytes, agent: str = "pc-a") -> Accepted:
    return _validator()._general(_identity(agent), payload)


def _same(a: Accepted, b: Accepted) -> None:
    assert a.lines == b.lines and a.rejected == b.rejected and a.seq == b.seq
    assert a.clock_offset_ms == b.clock_offset_ms
    assert [(p.m, p.t, p.f, p.tg) for p in a.points] == [(p.m, p.t, p.f, p.tg) for p in b.points]


def synthetic(n: object = 1, value: object = 0.5, t: int = NOW, series: str = "s0") -> wire.Point:
    return wire.Point(m="synthetic", t=t, f={"n": n, "value": value}, tg={"run": "r", "series": series})  # type: ignore[dict-item]


PLAIN = [
    synthetic(),
    synthetic(2, 1, t=NOW - 5 * S),  # an int for a float field: written as a float
    wire.Point(m="http", t=NOW, f={"status_code": 200, "total_ms": 12.5, "result": 'a "q" \\ b\nc', "ok": 1,
                                   "reason": ""}, tg={"service": "dịch vụ công, a=b c {x} %d", "url": "https://x/?a=1"}),
    wire.Point(m="host_disk", t=NOW, f={"total_bytes": 2**63 - 1, "used_bytes": -(2**63), "percent": 1e300,
                                        "error": ""}, tg={"path": "C:\\"}),
    wire.Point(m="host", t=NOW, f={"mem_total": 8, "boot_time": 5, "cpu_percent": -0.0}),  # names before a rename
    wire.Point(m="http", t=NOW, f={"ok": 1}, tg={"service": "dvc", "label": "dvc", "url": "https://x/"}),  # a dropped tag
    wire.Point(m="agent", t=NOW, f={"queue_depth": 3}),
]


def test_plain_batches_are_written_as_the_general_path_writes_them() -> None:
    v = _validator()
    payload = _payload(PLAIN, clock_offset_ms=12.0)
    for _ in range(2):  # the second time every shape is cached
        acc = v.metrics(_identity(), payload)
        assert acc.series is not None  # it took the plain path
        _same(acc, _general(payload))
        assert acc.series == [series_key(line) for line in acc.lines]
    assert len(v.plain) == len(PLAIN) - 1  # the first two points have one shape


def test_a_clock_shift_moves_the_points_as_on_the_general_path() -> None:
    payload = _payload([synthetic(t=NOW - 86400 * S)], clock_offset_ms=86400_000.0)
    acc = _validator().metrics(_identity(), payload)
    assert acc.series is not None and acc.lines[0].endswith(b" %d" % NOW)
    _same(acc, _general(payload))


@pytest.mark.parametrize("bad", [
    synthetic(n="x"), synthetic(n=True), synthetic(n=2**63), synthetic(n=1.5), synthetic(value="1"),
    synthetic(value=False), synthetic(t=0), synthetic(t=NOW + 3600 * S),
    wire.Point(m="synthetic", t=NOW, f={"n": 1, "nope": 1}, tg={"run": "r", "series": "s0"}),
    wire.Point(m="synthetic", t=NOW, f={"n": 1}, tg={"run": "r", "nope": "s0"}),
    wire.Point(m="collector", t=NOW, f={"received": 1}),
    wire.Point(m="http", t=NOW, f={"result": "x" * 65}, tg={"service": "dvc", "url": "u"}),
])
def test_a_cached_shape_never_lets_a_bad_value_through(bad: wire.Point) -> None:
    v = _validator()
    good = _payload([synthetic(), synthetic(series="s1"), wire.Point(m="http", t=NOW, f={"result": "ok"},
                                                                     tg={"service": "dvc", "url": "u"})])
    assert v.metrics(_identity(), good).series is not None  # the shapes are cached now
    payload = _payload([synthetic(3), bad, synthetic(4)], seq=2)
    acc = v.metrics(_identity(), payload)
    assert sum(acc.rejected.values()) == 1 and len(acc.lines) == 2
    _same(acc, _general(payload))


def _error(fn: object, *args: object) -> tuple[str, str]:
    with pytest.raises(wire.WireError) as exc:
        fn(*args)  # type: ignore[operator]
    return exc.value.reason, str(exc.value)


@pytest.mark.parametrize(("payload", "agent"), [
    (_payload([wire.Point(m="Synthetic", t=NOW, f={"n": 1})]), "pc-a"),  # name pattern
    (_payload([wire.Point(m="synthetic", t=NOW, f={"N": 1})]), "pc-a"),
    (_payload([wire.Point(m="synthetic", t=NOW, f={"n": 1}, tg={"Run": "r"})]), "pc-a"),
    (_payload([wire.Point(m="synthetic", t=NOW, f={"n": 1}, tg={"run": "a\nb"})]), "pc-a"),  # control character
    (_payload([wire.Point(m="synthetic", t=NOW, f={"n": 1}, tg={"run": "r", "site": "x"})]), "pc-a"),  # reserved
    (_payload([synthetic()], agent="pc-b"), "pc-a"),  # another agent's name
    (_payload([synthetic()], agent="PC-A"), "pc-a"),
    (_payload([synthetic()]).replace(b'"v":1', b'"v":2'), "pc-a"),
    (_payload([synthetic()]).replace(b'"value":0.5', b'"value":1e999'), "pc-a"),
    (_payload([synthetic()]).replace(b'"m":', b'"zz":1,"m":'), "pc-a"),  # an unknown key
    (b"{", "pc-a"),
])
def test_a_bad_batch_gets_the_general_paths_rejection_even_after_its_shapes_are_cached(payload: bytes,
                                                                                       agent: str) -> None:
    v = _validator()
    v.metrics(_identity(), _payload([synthetic(), wire.Point(m="synthetic", t=NOW, f={"n": 1})]))
    assert _error(v.metrics, _identity(agent), payload) == _error(_general, payload, agent)


def test_the_shape_cache_is_bounded_whatever_tags_an_agent_varies() -> None:
    v = _validator(max_shapes=50)
    steady = _payload([synthetic(series=f"steady{i}") for i in range(30)], agent="pc-b")
    assert v.metrics(_identity("pc-b"), steady).series is not None
    for seq in range(10):  # another agent floods new shapes: once the cache is full, its batches go the general way
        payload = _payload([synthetic(series=f"s{seq}-{i}") for i in range(20)], seq=seq)
        acc = v.metrics(_identity(), payload)
        assert (acc.series is not None) == (seq == 0) and len(v.plain) <= 50
        _same(acc, _general(payload))
    acc = v.metrics(_identity("pc-b"), steady)  # the steady agent's shapes were not evicted
    assert acc.series is not None and len(acc.lines) == 30
    # a batch with a few new shapes among known ones still caches them (the oldest go)
    mixed = _payload([synthetic(series=f"steady{i}") for i in range(28)] + [synthetic(series="new")], agent="pc-b")
    assert v.metrics(_identity("pc-b"), mixed).series is not None and len(v.plain) == 50
    # a shape whose prefix is too long is not cached: its batch takes the general path, same result
    v = _validator(max_prefix=60)
    payload = _payload([synthetic(series="x" * 200)])
    acc = v.metrics(_identity(), payload)
    assert acc.series is None and len(v.plain) == 0
    _same(acc, _general(payload))


def test_series_keys_from_the_shapes_limit_like_the_lines() -> None:
    v = _validator()
    payload = _payload([synthetic(series=f"s{i % 7}") for i in range(40)])
    acc = v.metrics(_identity(), payload)
    assert acc.series is not None
    cfg = LimitsSection(max_series=5)
    by_keys, by_lines = AgentLimits(cfg), AgentLimits(cfg)
    a, b = by_keys.admit("pc-a", acc.lines, acc.series), by_lines.admit("pc-a", acc.lines)
    assert a == b and a.rejected == {"series_limit": 10}  # s5 and s6 (5 points each) are over the limit


def test_points_under_old_names_stay_upgraded_while_shapes_come_and_go() -> None:
    v = _validator(max_shapes=2)
    old = wire.Point(m="host", t=NOW, f={"mem_total": 8})
    for seq in range(3):
        acc = v.metrics(_identity(), _payload([old, synthetic(series=f"a{seq}"), synthetic(series=f"b{seq}")],
                                              seq=seq))
        assert (acc.series is not None) == (seq == 0) and len(v.plain) <= 2  # then the cache is full: general path
        assert acc.points[0].f == {"mem_total_bytes": 8} and b"mem_total_bytes=8i" in acc.lines[0]
        acc = v.metrics(_identity(), _payload([synthetic(series=f"c{seq}")], seq=10 + seq))
        assert [p.f for p in acc.points] == [{"n": 1, "value": 0.5}]
