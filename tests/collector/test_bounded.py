"""Bounded memory and disk: the encoder's caches, the quarantine file, rate-limited logging."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from collector.lineproto import LineEncoder
from collector.loglimit import LogLimiter
from collector.quarantine import QuarantineFile


def test_encoder_caches_are_lru_bounded_and_skip_long_keys() -> None:
    enc = LineEncoder(max_cache=100, max_cached_bytes=200)
    ident = {"agent": "a", "commune": "07900"}
    for i in range(1000):
        enc.point_line("a", ident, "m", {"s": f"s{i}"}, {"v": 1.0}, 1)
    for i in range(1000):  # 16 long tags: encoded every time, never cached
        line = enc.point_line("a", ident, "m", {f"k{j}": "😀" * 100 + str(i) for j in range(16)}, {"v": 1.0}, 1)
        assert line.count("😀") == 1600
    entries, chars = enc.cache_sizes()
    assert entries <= 300 and chars <= 300 * 200
    hot = enc.point_line("a", ident, "m", {"s": "s999"}, {"v": 2.0}, 2)  # recently used: still cached
    assert hot == "m,agent=a,commune=07900,s=s999 v=2.0 2"


def test_quarantine_file_rotates_and_counts_what_it_drops(tmp_path: Path) -> None:
    q = QuarantineFile(tmp_path / "quarantine.jsonl", max_bytes=4096, max_line_bytes=100)
    for i in range(200):
        q.add("pc-h", i, "partial write: field type conflict", b"m v=\"" + b"x" * 500 + b"\" " + str(i).encode())
    files = [tmp_path / "quarantine.jsonl", tmp_path / "quarantine.jsonl.1"]
    assert sum(f.stat().st_size for f in files) <= 2 * 4096
    kept = sum(len(f.read_text().splitlines()) for f in files)
    assert q.written == 200 and q.dropped == 200 - kept and q.dropped > 0
    last = json.loads(files[0].read_text().splitlines()[-1])
    assert last["seq"] == 199 and last["truncated"] > 500 and len(last["line"]) == 100


def test_log_limiter_counts_and_reports_suppressed_lines(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    limiter = LogLimiter(per_interval=3, interval=60, clock=lambda: now[0])
    log = logging.getLogger("test.loglimit")
    with caplog.at_level(logging.WARNING):
        for i in range(100):
            limiter.log(log, logging.WARNING, "flood", "bad point %d", i)
        limiter.log(log, logging.WARNING, "other", "another kind")
        now[0] = 61
        limiter.log(log, logging.WARNING, "flood", "bad point %d", 100)
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["bad point 0", "bad point 1", "bad point 2", "another kind",
                        "bad point 100 (97 similar line(s) suppressed)"]
    assert limiter.suppressed_total == 97
