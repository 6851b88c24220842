"""The quarantine file: points InfluxDB rejected for their content, one JSON record per line, with the reason.

Bounded on disk: when the file passes ``max_bytes`` it is rotated to ``<name>.1`` (the previous ``.1`` is
deleted, and its records are counted in ``dropped``); each stored line is cut to ``max_line_bytes``. So the
quarantine never takes more than about 2 x ``max_bytes``.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

log = logging.getLogger("collector.quarantine")


class QuarantineFile:
    def __init__(self, path: Path, max_bytes: int = 32 * 1024 * 1024, max_line_bytes: int = 4096) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.max_line_bytes = max_line_bytes
        self.rotated = path.with_name(path.name + ".1")
        self.written = 0
        self.dropped = 0
        """Records deleted by rotation (they were in the old ``.1``)."""
        self.failed = 0
        self._rotated_records = self._count(self.rotated)
        self._records = self._count(path)

    @staticmethod
    def _count(path: Path) -> int:
        try:
            with path.open("rb") as fh:
                return sum(1 for _ in fh)
        except OSError:
            return 0

    def add(self, agent: str, seq: int | None, reason: str, line: bytes) -> None:
        text = line[: self.max_line_bytes].decode("utf-8", "replace")
        record = {"time": time.time(), "agent": agent, "seq": seq, "reason": reason[:500], "line": text,
                  **({"truncated": len(line)} if len(line) > self.max_line_bytes else {})}
        data = json.dumps(record, ensure_ascii=False) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            size = self.path.stat().st_size if self.path.exists() else 0
            if size and size + len(data) > self.max_bytes:
                self._rotate()
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(data)
            self._records += 1
            self.written += 1
        except OSError as exc:
            self.failed += 1
            log.error("cannot write quarantine file %s: %s", self.path, exc)

    def _rotate(self) -> None:
        if self.rotated.exists():
            self.dropped += self._rotated_records
            log.warning("quarantine: rotated %s; %d older record(s) deleted", self.path, self._rotated_records)
        self.path.replace(self.rotated)
        self._rotated_records, self._records = self._records, 0
