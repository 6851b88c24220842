"""Per-agent limits: a token bucket for points/s, new series per hour, total series per agent."""

from __future__ import annotations

from collector.limits import RATE_LIMITED, SERIES_LIMIT, AgentLimits, LimitsSection


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _lines(agent: str, series: range, t: int = 1) -> list[bytes]:
    return [f"m,agent={agent},s=x\\ {i} v=1.0 {t}".encode() for i in series]


def test_the_bucket_admits_the_burst_then_the_rate() -> None:
    clock = Clock()
    limits = AgentLimits(LimitsSection(points_per_second=10, burst_points=100), clock=clock, wall=clock)
    assert limits.admit("a", _lines("a", range(5)) * 20).rejected == {}  # 100 points on 5 series: the burst
    refused = limits.admit("a", _lines("a", range(5)))
    assert refused.rejected == {RATE_LIMITED: 5} and refused.admitted == []
    assert limits.admit("b", _lines("b", range(5))).rejected == {}  # another agent has its own bucket
    assert limits.exhausted("a") and not limits.exhausted("b")
    clock.t += 1.0  # 10 tokens back
    assert not limits.exhausted("a")
    assert limits.admit("a", _lines("a", range(5)) * 2).rejected == {}
    assert limits.admit("a", _lines("a", range(1))).rejected == {RATE_LIMITED: 1}


def test_series_limits_refuse_only_the_points_that_open_new_series() -> None:
    clock = Clock()
    limits = AgentLimits(LimitsSection(max_series=50, new_series_per_hour=30), clock=clock, wall=clock)
    first = limits.admit("h", _lines("h", range(40)))
    assert first.admitted == list(range(30)) and first.rejected == {SERIES_LIMIT: 10}  # 30 new this hour
    again = limits.admit("h", _lines("h", range(5)) + _lines("h", range(100, 102)))
    assert again.admitted == list(range(5)) and again.rejected == {SERIES_LIMIT: 2}  # known series still pass
    clock.t += 3600  # a new hour: 30 more, but only 20 until the total of 50
    later = limits.admit("h", _lines("h", range(200, 240)))
    assert len(later.admitted) == 20 and later.rejected == {SERIES_LIMIT: 20}
    assert limits.series_count("h") == 50 and limits.series_count("other") == 0
    assert limits.admit("h", _lines("h", range(3), t=99)).rejected == {}  # same series, new time: fine


def test_a_flooding_agent_stays_exhausted_while_its_bucket_refills_below_its_batch_size() -> None:
    clock = Clock()
    limits = AgentLimits(LimitsSection(points_per_second=100, burst_points=1000), clock=clock, wall=clock)
    assert limits.admit("f", _lines("f", range(10)) * 100).rejected == {}  # the burst
    clock.t += 0.5  # 50 points back: not empty, but far from the flood's 1,000-point batches
    assert limits.admit("f", _lines("f", range(10)) * 100).rejected == {RATE_LIMITED: 1000}
    clock.t += 5.0  # 550 points: still short of the last refused batch, so refused before decoding
    assert limits.exhausted("f")
    clock.t += 5.0  # 1,000 (the burst): the next batch is read again
    assert not limits.exhausted("f")
    assert limits.admit("f", _lines("f", range(10))).rejected == {}
    assert not limits.exhausted("f")  # an admitted batch clears the mark
