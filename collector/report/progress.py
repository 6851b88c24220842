"""A one-line progress bar on stderr; silent when stderr is not a terminal."""

from __future__ import annotations

import sys
from typing import TextIO


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total = max(total, 1)
        self.done = 0

    def step(self, what: str) -> None:
        self.done = min(self.done + 1, self.total)
        if not self.enabled:
            return
        width = 30
        filled = width * self.done // self.total
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {what:<24}")
        if self.done == self.total:
            self.stream.write("\n")
        self.stream.flush()
