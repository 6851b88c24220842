from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import QueueError
from agent.queue import CACHE_KIB, DiskQueue


class FakeClock:
    """A settable clock (the queue takes its clock from outside)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _payload(n: int) -> bytes:
    return b"x" * n


def test_put_ack_and_sequence_survive_reopen(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path / "q.sqlite", max_bytes=10_000, max_age_s=3600)
    seqs = [q.put(lambda s: f"batch {s}".encode())[0] for _ in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    assert q.ack([(2, 3)]) == 2
    q.close()
    q = DiskQueue(tmp_path / "q.sqlite", max_bytes=10_000, max_age_s=3600)
    assert [s for s, _ in q.pending(0)] == [1, 4, 5]
    assert q.pending(0)[0][1] == b"batch 1"
    assert q.put(lambda s: b"next")[0] == 6  # sequence numbers are never reused
    q.ack([(1, 6)])
    q.close()
    q = DiskQueue(tmp_path / "q.sqlite", max_bytes=10_000, max_age_s=3600)
    assert q.pending(0) == [] and q.put(lambda s: b"z")[0] == 7


def test_bytes_bound_drops_oldest_and_counts(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path / "q.sqlite", max_bytes=1000, max_age_s=3600)
    for _ in range(25):
        q.put(lambda s: _payload(100))
    st = q.stats()
    assert st.bytes <= 1000 and st.depth == 10
    assert st.dropped_total == 15
    assert [s for s, _ in q.pending(0)] == list(range(16, 26))
    q.close()
    assert DiskQueue(tmp_path / "q.sqlite", 1000, 3600).stats().dropped_total == 15  # persisted


def test_age_bound(tmp_path: Path) -> None:
    clock = FakeClock()
    q = DiskQueue(tmp_path / "q.sqlite", max_bytes=10**6, max_age_s=60, clock=clock)
    q.put(lambda s: b"old")
    clock.now += 61
    q.put(lambda s: b"new")
    assert [p for _, p in q.pending(0)] == [b"new"]
    assert q.stats().dropped_total == 1


def test_unwritable_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    with pytest.raises(QueueError, match="cannot open queue"):
        DiskQueue(blocker / "q.sqlite", 1000, 60)


def test_page_cache_is_bounded(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path / "q.sqlite", 1 << 30, 3600)
    # sqlite's default is 2 MiB (-2000); the agent's queue keeps at most CACHE_KIB resident.
    assert q._db.execute("PRAGMA cache_size").fetchone()[0] == -CACHE_KIB
    assert CACHE_KIB <= 512
