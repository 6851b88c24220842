"""Counter rates of the snmp probe: wraps, resets and absurd values give no rate."""

from __future__ import annotations

from agent.probes.snmp.rates import counter_rate, interface_speed


def test_counter_rate_wraps_and_resets() -> None:
    assert counter_rate(100, 700, 60, 64) == 10.0
    assert counter_rate(2**32 - 600, 600, 60, 32) == 20.0  # 32-bit wrap
    assert counter_rate(5_000_000, 10, 60, 64) is None  # 64-bit counter going back: a reset
    assert counter_rate(1_000_000_000, 10, 60, 32) is None  # going back by more than half the range: a reset
    assert counter_rate(0, 10**12, 60, 64, max_rate=1e9 / 8) is None  # faster than the link: absurd
    assert counter_rate(None, 10, 60, 64) is None
    assert counter_rate(10, 20, 0, 64) is None


def test_interface_speed_prefers_high_speed_when_if_speed_saturates() -> None:
    assert interface_speed(100_000_000, 100) == 100_000_000
    assert interface_speed(4294967295, 10_000) == 10_000_000_000
    assert interface_speed(None, None) == 0
