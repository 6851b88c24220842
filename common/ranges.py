"""Sequence numbers <-> inclusive ranges (how acks name the batches written)."""

from __future__ import annotations

from collections.abc import Iterable


def seqs_to_ranges(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """[1,2,3,7,8] -> [(1,3),(7,8)]; unordered input and duplicates are fine."""
    ranges: list[tuple[int, int]] = []
    for s in sorted(set(seqs)):
        if ranges and s == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], s)
        else:
            ranges.append((s, s))
    return ranges
