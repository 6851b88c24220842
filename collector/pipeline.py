"""Accepted batches -> InfluxDB in large writes -> acks, with back-pressure, retries and quarantine.

- Batches wait in arrival order; a write takes whole batches up to ``batch_points`` lines.
- 2xx: every agent batch in the write is acked to its agent (exact sequence ranges) through the
  ``AckPublisher``; a failed ack is counted (``acks_failed``) and logged. The collector's own points
  (``add_own``) share the writes and need no ack.
- Retryable failure (InfluxDB down, 5xx): keep the data, back off, try again; no acks meanwhile, and the
  pending depth rises (reported). Above ``max_pending_points`` the MQTT reader waits (back-pressure).
- 4xx (bad data): split the write in halves until the bad lines are isolated; good lines are written, bad
  ones go to the quarantine file with InfluxDB's reason, and the batches are acked. No retry loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agent import wire
from collector.acks import AckPublisher
from collector.errors import WriteError
from collector.influx import InfluxClient
from collector.validate import Accepted
from common.backoff import Backoff
from common.ranges import seqs_to_ranges

log = logging.getLogger("collector.pipeline")

COUNTERS = ("batches_accepted", "points_accepted", "points_written", "batches_written", "acks_sent", "acks_failed",
            "write_errors", "points_quarantined", "duplicates_dropped", "duplicates_reacked", "own_points")
"""Every counter of ``PipelineStats.counters`` (exported as metrics even while still zero)."""


@dataclass(frozen=True)
class _Batch:
    """Where an agent's lines came from: acked after the write."""

    agent: str
    seq: int


@dataclass
class _Pending:
    lines: list[bytes]
    batch: _Batch | None = None
    """None for the collector's own points."""


@dataclass
class PipelineStats:
    counters: Counter[str] = field(default_factory=Counter)


class Pipeline:
    def __init__(
        self, writer: InfluxClient, acks: AckPublisher, *, batch_points: int = 5000, flush_interval: float = 0.2,
        max_pending_points: int = 200_000, quarantine_path: Path | None = None, max_concurrent_writes: int = 2,
        remember_written: int = 2048,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.writer = writer
        self.acks = acks
        self.batch_points = batch_points
        self.flush_interval = flush_interval
        self.max_pending_points = max_pending_points
        self.max_concurrent_writes = max_concurrent_writes
        self.quarantine_path = quarantine_path
        self.clock_ns = clock_ns
        self.stats = PipelineStats()
        self._queue: deque[_Pending] = deque()
        self._pending_points = 0  # accepted and not yet written (queued + being written)
        self._queued_points = 0  # accepted and not yet taken by a write
        self._have = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self._pending_seqs: dict[str, set[int]] = {}  # agent -> seqs queued or being written
        self._written: dict[str, dict[int, None]] = {}  # agent -> recently written seqs (insertion-ordered)
        self.remember_written = remember_written

    @property
    def pending_points(self) -> int:
        return self._pending_points

    @property
    def pending_batches(self) -> int:
        return len(self._queue)

    async def add(self, accepted: Accepted) -> None:
        """Queue an agent's accepted batch; waits while too much is pending (InfluxDB slow or down).

        A batch the agent sent again (it had no ack yet) is not written twice: if it is still pending it is
        dropped (its ack follows the write), if it was written recently it is acked again at once."""
        batch = _Batch(accepted.identity.agent, accepted.seq)
        if batch.seq in self._pending_seqs.get(batch.agent, ()):
            self.stats.counters["duplicates_dropped"] += 1
            return
        if batch.seq in self._written.get(batch.agent, ()):
            self.stats.counters["duplicates_reacked"] += 1
            await self._ack([_Pending([], batch)], count=False)
            return
        self._pending_seqs.setdefault(batch.agent, set()).add(batch.seq)
        await self._enqueue(_Pending(accepted.lines, batch))
        self.stats.counters["batches_accepted"] += 1
        self.stats.counters["points_accepted"] += len(accepted.lines)

    async def add_own(self, lines: list[bytes]) -> None:
        """Queue the collector's own points (status, clock, stats); they are written like the agents' and
        need no ack. Waits while too much is pending, like ``add``."""
        await self._enqueue(_Pending(lines))
        self.stats.counters["own_points"] += len(lines)

    async def _enqueue(self, item: _Pending) -> None:
        await self._space.wait()
        self._queue.append(item)
        self._pending_points += len(item.lines)
        self._queued_points += len(item.lines)
        if self._pending_points >= self.max_pending_points:
            self._space.clear()
        self._have.set()

    def _take(self) -> list[_Pending]:
        taken: list[_Pending] = []
        n = 0
        while self._queue and (not taken or n + len(self._queue[0].lines) <= self.batch_points):
            item = self._queue.popleft()
            taken.append(item)
            n += len(item.lines)
        self._queued_points -= n
        return taken

    async def run(self) -> None:
        """Take whole batches up to ``batch_points`` lines and write them, ``max_concurrent_writes`` at a time
        (encoding the next write overlaps InfluxDB's work on the previous one)."""
        slots = asyncio.Semaphore(self.max_concurrent_writes)
        async with asyncio.TaskGroup() as tg:
            while True:
                await self._have.wait()
                if self._queued_points < self.batch_points:
                    await asyncio.sleep(self.flush_interval)  # let a write fill up
                await slots.acquire()
                chunk = self._take()
                if not self._queue:
                    self._have.clear()
                if not chunk:
                    slots.release()
                    continue
                tg.create_task(self._write_until_done(chunk, slots))

    async def _write_until_done(self, chunk: list[_Pending], slots: asyncio.Semaphore) -> None:
        backoff = Backoff(0.5, 30.0)
        try:
            while True:
                try:
                    await self._write_chunk(chunk)
                    break
                except WriteError as exc:
                    self.stats.counters["write_errors"] += 1
                    delay = backoff.next()
                    log.warning("write failed (%s); %d points pending; retrying in %.1fs", exc,
                                self._pending_points, delay)
                    await asyncio.sleep(delay)
        finally:
            slots.release()
        self._pending_points -= sum(len(p.lines) for p in chunk)
        if self._pending_points < self.max_pending_points:
            self._space.set()
        self._remember_written(chunk)
        await self._ack(chunk)

    async def _write_chunk(self, chunk: list[_Pending]) -> None:
        lines = [line for p in chunk for line in p.lines]
        if not lines:
            return
        try:
            await self.writer.write(b"\n".join(lines))
        except WriteError as exc:
            if exc.retryable:
                raise
            log.warning("InfluxDB rejected a write of %d points (%s): isolating the bad points", len(lines), exc)
            owners = [p for p in chunk for _ in p.lines]
            await self._bisect(lines, owners)
            return
        self.stats.counters["points_written"] += len(lines)

    async def _bisect(self, lines: list[bytes], owners: list[_Pending]) -> None:
        """Write halves separately until single rejected lines remain; those go to quarantine."""
        stack = [(lines, owners)]
        while stack:
            part, who = stack.pop()
            try:
                await self.writer.write(b"\n".join(part))
                self.stats.counters["points_written"] += len(part)
            except WriteError as exc:
                if exc.retryable:
                    raise
                if len(part) == 1:
                    self._quarantine(who[0], part[0], str(exc))
                    continue
                mid = len(part) // 2
                stack.append((part[mid:], who[mid:]))
                stack.append((part[:mid], who[:mid]))

    def _quarantine(self, owner: _Pending, line: bytes, reason: str) -> None:
        self.stats.counters["points_quarantined"] += 1
        agent, seq = (owner.batch.agent, owner.batch.seq) if owner.batch else ("(collector)", None)
        log.error("quarantined a point from agent %s batch %s: %s", agent, seq, reason)
        if self.quarantine_path is None:
            return
        record = {"time": time.time(), "agent": agent, "seq": seq, "reason": reason,
                  "line": line.decode("utf-8", "replace")}
        try:
            self.quarantine_path.parent.mkdir(parents=True, exist_ok=True)
            with self.quarantine_path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        except OSError as exc:
            log.error("cannot write quarantine file %s: %s", self.quarantine_path, exc)

    def _remember_written(self, chunk: list[_Pending]) -> None:
        for b in (p.batch for p in chunk if p.batch):
            self._pending_seqs.get(b.agent, set()).discard(b.seq)
            recent = self._written.setdefault(b.agent, {})
            recent[b.seq] = None
            if len(recent) > self.remember_written:
                del recent[next(iter(recent))]  # dicts keep insertion order: forget the oldest

    async def _ack(self, chunk: list[_Pending], count: bool = True) -> None:
        by_agent: dict[str, list[int]] = {}
        for b in (p.batch for p in chunk if p.batch):
            by_agent.setdefault(b.agent, []).append(b.seq)
        for agent_id, seqs in by_agent.items():
            if count:
                self.stats.counters["batches_written"] += len(seqs)
            ack = wire.Ack(v=wire.SCHEMA_VERSION, ranges=seqs_to_ranges(seqs), time=self.clock_ns())
            try:
                await self.acks.publish(agent_id, wire.encode(ack))
            except Exception as exc:  # the agent sends the batches again; they are acked then, not rewritten
                self.stats.counters["acks_failed"] += 1
                log.warning("ack of %d batch(es) to agent %s failed: %s: %s", len(seqs), agent_id,
                            type(exc).__name__, exc)
            else:
                self.stats.counters["acks_sent"] += 1
