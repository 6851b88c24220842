"""ping statistics: jitter from known RTT lists (the pure function), and a real ping of 127.0.0.1 whose
min/median/avg/max/jitter must be consistent with each other."""

from __future__ import annotations

import pytest

from agent.probes.base import ProbeContext
from agent.probes.ping import PingConfig, PingProbe, PingTarget, jitter
from agent.units import Duration
from tests.support.schema import conforming


@pytest.mark.parametrize(("rtts", "expected"), [
    ([], 0.0),
    ([12.5], 0.0),
    ([10.0, 10.0, 10.0], 0.0),
    ([10.0, 20.0], 10.0),
    ([10.0, 20.0, 10.0, 20.0], 10.0),  # |+10| |-10| |+10| / 3
    ([1.0, 2.0, 4.0, 8.0], 7.0 / 3.0),  # 1 + 2 + 4 over 3 differences
    ([30.0, 10.0, 25.0], 17.5),  # order matters: |-20| + |15| over 2
    ([5.0, 1.0, 9.0, 3.0, 7.0], 5.5),  # 4 + 8 + 6 + 4 over 4
])
def test_jitter_is_mean_absolute_difference_of_consecutive_rtts(rtts: list[float], expected: float) -> None:
    assert jitter(rtts) == pytest.approx(expected)


def test_jitter_differs_from_spread() -> None:
    """Same values, different order: the spread (max - min) is equal, the jitter is not."""
    assert jitter([1.0, 2.0, 3.0, 4.0]) == pytest.approx(1.0)
    assert jitter([1.0, 4.0, 2.0, 3.0]) == pytest.approx(2.0)


async def test_real_ping_of_loopback_statistics_are_consistent() -> None:
    cfg = PingConfig(targets=[PingTarget(host="127.0.0.1", name="loopback")], count=10,
                     packet_interval=Duration(0.01), packet_timeout=Duration(2.0))
    probe = PingProbe(cfg, ProbeContext(agent_id="pc-test"))
    (pt,) = conforming(await probe.collect())
    f = pt.f
    assert pt.m == "ping"
    assert pt.tg == {"target": "127.0.0.1", "name": "loopback", "role": "other"}
    assert (f["result"], f["ok"], f["reason"]) == ("ok", 1, "")
    assert (f["sent"], f["received"], f["loss_percent"]) == (10, 10, 0.0)
    lo, med, avg, hi, jit = (float(f[k]) for k in ("rtt_min_ms", "rtt_median_ms", "rtt_avg_ms", "rtt_max_ms",
                                                   "jitter_ms"))
    assert 0.0 <= lo <= med <= hi
    assert lo <= avg <= hi
    assert 0.0 <= jit <= hi - lo  # a mean of consecutive differences never exceeds the spread
