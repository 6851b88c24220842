"""Counter rates, interface speed, CPU and memory from the walked tables of the ``snmp`` probe."""

from __future__ import annotations

from typing import Any

from agent.probes.snmp.profiles import (
    HR_PROCESSOR_LOAD,
    HR_STORAGE_RAM,
    HR_STORAGE_SIZE,
    HR_STORAGE_TYPE,
    HR_STORAGE_USED,
    SnmpProfile,
)

TICKS_WRAP = 2**32
C32 = 2**32


def counter_rate(prev: int | None, cur: int | None, dt: float, bits: int, max_rate: float | None = None) -> float | None:
    """Per-second rate of a counter between two polls; None when it cannot be trusted.

    A 32-bit counter that went back by less than half its range wrapped once; anything else going back
    (a reset, a 64-bit counter) gives no rate. A rate above ``max_rate`` is absurd and dropped.
    """
    if prev is None or cur is None or dt <= 0:
        return None
    delta = cur - prev
    if delta < 0:
        if bits != 32 or prev >= C32 or cur >= C32:
            return None
        delta += C32
        if delta >= C32 // 2:
            return None
    rate = delta / dt
    if max_rate is not None and rate > max_rate:
        return None
    return rate


def interface_speed(speed: Any, high_speed: Any) -> int:
    """Interface speed in bit/s: ifHighSpeed (Mbit/s) when ifSpeed is saturated or missing."""
    s = speed if isinstance(speed, int) else 0
    hs = high_speed if isinstance(high_speed, int) else 0
    if hs and (s == 0 or s >= 4294967295 or hs * 1_000_000 > s):
        return hs * 1_000_000
    return s


def _aggregate(values: list[int], how: str) -> float | None:
    nums = [v for v in values if 0 <= v <= 100]
    if not nums:
        return None
    return float(max(nums)) if how == "max" else float(sum(nums)) / len(nums)


def cpu_percent(profile: SnmpProfile, table: dict[str, dict[str, int | str]]) -> float | None:
    if profile.cpu_oid:
        vals = [v for v in table.get(profile.cpu_oid, {}).values() if isinstance(v, int)]
        got = _aggregate(vals, profile.cpu_aggregate)
        if got is not None:
            return got
    vals = [v for v in table.get(HR_PROCESSOR_LOAD, {}).values() if isinstance(v, int)]
    return _aggregate(vals, "avg")


def mem_percent(profile: SnmpProfile, table: dict[str, dict[str, int | str]]) -> float | None:
    if profile.mem_percent_oid:
        vals = [v for v in table.get(profile.mem_percent_oid, {}).values() if isinstance(v, int)]
        got = _aggregate(vals, "max")
        if got is not None:
            return got
    if profile.mem_used_oid and profile.mem_free_oid:
        used = sum(v for v in table.get(profile.mem_used_oid, {}).values() if isinstance(v, int))
        free = sum(v for v in table.get(profile.mem_free_oid, {}).values() if isinstance(v, int))
        if used + free > 0:
            return used * 100.0 / (used + free)
    types = table.get(HR_STORAGE_TYPE, {})
    size_col, used_col = table.get(HR_STORAGE_SIZE, {}), table.get(HR_STORAGE_USED, {})
    total = used_total = 0
    for idx, kind in types.items():
        if kind != HR_STORAGE_RAM:
            continue
        size, used_v = size_col.get(idx), used_col.get(idx)
        if isinstance(size, int) and isinstance(used_v, int) and size > 0:
            total += size
            used_total += used_v
    if total > 0:
        return used_total * 100.0 / total
    return None
