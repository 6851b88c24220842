from __future__ import annotations

import itertools

import pytest

from common.backoff import Backoff


def test_delays_double_up_to_the_cap_within_the_jitter_bounds() -> None:
    lo_rng, hi_rng = Backoff(1.0, 8.0, rng=lambda: 0.0), Backoff(1.0, 8.0, rng=lambda: 0.999999)
    lows = [lo_rng.next() for _ in range(6)]
    highs = [hi_rng.next() for _ in range(6)]
    assert lows == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]  # base 1, 2, 4, 8, 8, 8 scaled by 0.5
    assert highs == pytest.approx([1.5, 3.0, 6.0, 12.0, 12.0, 12.0], rel=1e-5)


def test_jitter_spreads_the_delays() -> None:
    values = itertools.cycle([0.1, 0.9, 0.5])
    b = Backoff(2.0, 2.0, rng=lambda: next(values))
    assert [b.next() for _ in range(3)] == pytest.approx([1.2, 2.8, 2.0])
    real = Backoff(1.0, 1.0)
    delays = {real.next() for _ in range(50)}
    assert len(delays) > 1 and all(0.5 <= d < 1.5 for d in delays)


def test_reset_starts_again_from_lo() -> None:
    b = Backoff(0.5, 30.0, rng=lambda: 0.5)
    for _ in range(5):
        b.next()
    assert b.next() == 16.0
    b.reset()
    assert b.next() == 0.5


def test_bad_bounds_are_refused() -> None:
    for lo, hi in ((0.0, 1.0), (2.0, 1.0)):
        with pytest.raises(ValueError, match="0 < lo <= hi"):
            Backoff(lo, hi)
