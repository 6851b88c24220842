"""The queue gives its disk back: after a backlog is acked the SQLite file and its WAL shrink again."""

from __future__ import annotations

import os
from pathlib import Path

from agent.queue import COMPACT_ABOVE, DiskQueue


def _sizes(path: Path) -> tuple[int, int]:
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size, (wal.stat().st_size if wal.exists() else 0)


def test_files_shrink_once_the_backlog_is_acked(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite"
    q = DiskQueue(path, max_bytes=64 << 20, max_age_s=86400)
    seqs = [q.put(lambda seq: os.urandom(20_000))[0] for _ in range(350)]  # ~7 MB, as after a long link cut
    db, wal = _sizes(path)
    assert db + wal > 5 * (1 << 20)
    q.ack([(seqs[0], seqs[199])])  # part of the backlog: not empty yet, nothing compacted
    assert sum(_sizes(path)) > 5 * (1 << 20)
    q.ack([(seqs[200], seqs[-1])])
    db, wal = _sizes(path)
    assert db < 256 * 1024 and wal < 256 * 1024, (db, wal)
    # still a working queue, and the sequence goes on
    seq, _ = q.put(lambda s: b"x" * 100)
    assert seq == seqs[-1] + 1 and [s for s, _ in q.pending(0)] == [seq]
    q.close()
    assert DiskQueue(path, 64 << 20, 86400).next_seq == seq + 1


def test_a_small_steady_queue_is_not_vacuumed_on_every_ack(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite"
    q = DiskQueue(path, max_bytes=64 << 20, max_age_s=86400)
    compactions = 0
    original = q.compact

    def counting() -> None:
        nonlocal compactions
        compactions += 1
        original()

    q.compact = counting  # type: ignore[method-assign]
    for _ in range(50):
        seq, _ = q.put(lambda s: b"y" * 2000)
        q.ack([(seq, seq)])
    assert q.file_bytes() <= 2 * COMPACT_ABOVE
    assert compactions == 0
