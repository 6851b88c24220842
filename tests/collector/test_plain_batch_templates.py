"""The shape cache's split: a point template (measurement, tag keys, field names) is checked once and its compiled
writer shared by every series of every agent; per series only the prefix and series key are kept. Whatever is
cached, the plain path accepts only what the general path accepts, writes the same bytes and stays bounded."""

from __future__ import annotations

import pytest

from agent import wire
from collector.limits import series_key
from collector.validate import Validator
from tests.collector.test_plain_batch import (
    NOW,
    _error,
    _general,
    _identity,
    _payload,
    _same,
    _validator,
    synthetic,
)


def _writers(v: Validator) -> set[int]:
    return {id(s.write) for s in v.plain._shapes.values()}


def test_agents_with_the_same_names_share_one_template_and_its_writer() -> None:
    v = _validator()
    for agent in ("pc-a", "pc-b"):
        payload = _payload([synthetic(series=f"s{i}") for i in range(5)], agent=agent)
        acc = v.metrics(_identity(agent), payload)
        assert acc.series is not None
        _same(acc, _general(payload, agent))
        assert acc.series == [series_key(line) for line in acc.lines]
    assert len(v.plain) == 10 and v.plain.templates() == 1 and len(_writers(v)) == 1
    # another field order is another template (the writer unpacks the values in the order sent)
    swapped = wire.Point(m="synthetic", t=NOW, f={"value": 0.5, "n": 1}, tg={"run": "r", "series": "s0"})
    acc = v.metrics(_identity(), _payload([swapped], seq=2))
    assert acc.series is not None and v.plain.templates() == 2 and len(_writers(v)) == 2
    _same(acc, _general(_payload([swapped], seq=2)))


@pytest.mark.parametrize("bad", [
    synthetic(n="x", series="new"), synthetic(n=True, series="new"), synthetic(n=2**63, series="new"),
    synthetic(n=1.5, series="new"), synthetic(value="1", series="new"), synthetic(value=False, series="new"),
    synthetic(series="new", t=0),
])
def test_a_new_series_of_a_cached_template_is_still_checked(bad: wire.Point) -> None:
    v = _validator()
    assert v.metrics(_identity(), _payload([synthetic()])).series is not None  # pc-a made the template
    payload = _payload([synthetic(series="other"), bad], agent="pc-b")
    acc = v.metrics(_identity("pc-b"), payload)  # pc-b's series are new; the template is cached
    assert sum(acc.rejected.values()) == 1 and len(acc.lines) == 1
    _same(acc, _general(payload, "pc-b"))
    again = _payload([synthetic(series="other"), bad], agent="pc-b", seq=2)  # and once its series are cached
    _same(v.metrics(_identity("pc-b"), again), _general(again, "pc-b"))


def test_a_cached_template_does_not_pass_a_new_series_bad_tag_value() -> None:
    v = _validator()
    assert v.metrics(_identity(), _payload([synthetic()])).series is not None
    payload = _payload([synthetic(series="a\nb")], agent="pc-b")
    assert _error(v.metrics, _identity("pc-b"), payload) == _error(_general, payload, "pc-b")


def test_two_names_for_one_field_take_the_general_path() -> None:
    payload = _payload([wire.Point(m="host", t=NOW, f={"mem_total": 8, "mem_total_bytes": 9})])
    v = _validator()
    acc = v.metrics(_identity(), payload)
    assert acc.series is None and v.plain.templates() == 0
    _same(acc, _general(payload))


def test_the_series_bound_holds_under_a_flood_of_one_template() -> None:
    v = _validator(max_shapes=35)
    steady = _payload([synthetic(series=f"steady{i}") for i in range(20)], agent="pc-b")
    assert v.metrics(_identity("pc-b"), steady).series is not None
    for seq in range(30):  # every batch new series of a cached template: once full, the general path
        payload = _payload([synthetic(series=f"f{seq}-{i}") for i in range(15)], seq=seq)
        acc = v.metrics(_identity(), payload)
        assert len(v.plain) <= 35 and v.plain.templates() == 1
        assert (acc.series is not None) == (seq == 0)  # 20 + 15 fit; then a batch of new series would evict
        _same(acc, _general(payload))
    assert len(v.plain._shapes) == len(v.plain._order) == len(v.plain)
    held = set(v.plain._shapes)
    acc = v.metrics(_identity("pc-b"), steady)
    assert acc.series is not None and len(acc.lines) == 20  # the steady agent's series were not evicted
    assert set(v.plain._shapes) == held


def test_templates_are_bounded_and_series_keep_theirs() -> None:
    v = _validator()
    v.plain.max_templates = 2
    fields = [{"n": 1}, {"value": 0.5}, {"n": 1, "value": 0.5}, {"value": 0.5, "n": 1}]
    points = [wire.Point(m="synthetic", t=NOW, f=f, tg={"run": "r", "series": f"s{i}"})  # type: ignore[arg-type]
              for i, f in enumerate(fields)]
    for seq in range(3):
        payload = _payload(points, seq=seq)
        acc = v.metrics(_identity(), payload)
        assert acc.series is not None and v.plain.templates() <= 2 and len(v.plain) == 4
        _same(acc, _general(payload))
    bad = _payload([wire.Point(m="synthetic", t=NOW, f={"n": "x"}, tg={"run": "r", "series": "s0"})], seq=9)
    _same(v.metrics(_identity(), bad), _general(bad))  # an evicted template's series still checks its values


def test_long_tags_are_bounded_by_bytes() -> None:
    v = _validator()
    v.plain.max_bytes = 40_000
    steady = _payload([synthetic(series=f"steady{i}") for i in range(20)], agent="pc-b")
    assert v.metrics(_identity("pc-b"), steady).series is not None
    held = {k for k in v.plain._shapes if k[0] == "pc-b"}
    cached = []
    for seq in range(20):  # long, ever new tag values: the cache fills by bytes long before its count
        payload = _payload([synthetic(series=f"{seq}-{i}-" + "ờ" * 250) for i in range(5)], seq=seq)
        acc = v.metrics(_identity(), payload)
        cached.append(acc.series is not None)
        assert v.plain.size() <= 40_000
        assert v.plain.size() == sum(s.size for s in v.plain._shapes.values())
        _same(acc, _general(payload))
    assert cached == [True, True] + [False] * 18  # ~2.4 kB each: 10 fit beside the steady agent's ~14 kB
    assert held <= set(v.plain._shapes)  # the steady agent's series stayed
    assert v.metrics(_identity("pc-b"), steady).series is not None
