"""Accepted batches -> InfluxDB in large writes -> acks, with back-pressure, retries and quarantine.

- Batches wait in arrival order; a write takes whole batches up to ``batch_points`` lines.
- 2xx: every agent batch's ``done`` callbacks run (the consumer PUBACKs the MQTT message there: the data is
  written, the broker may forget it), then it is acked to its agent (exact sequence ranges) through the
  ``AckPublisher`` (QoS 0, collector/acks.py: never waits on the consumer's paused socket). A failed ack is
  counted (``acks_failed``) and logged. The collector's own points (``add_own``) need no ack.
- What InfluxDB's answer allows (``WriteError.kind``):
  - ``retry`` (down, 5xx, 429, timeout) and ``blocked`` (401/403/404 and other client errors): keep the data,
    no acks, back off (``common.backoff``) and try again; ``blocked`` sets ``blocked[reason]`` (a gauge) and
    is logged loudly (rate-limited). Above ``max_pending_points`` the MQTT reader waits (back-pressure).
  - ``too_large`` (413): the write is split into halves until InfluxDB takes them; nothing is quarantined.
  - ``content`` (a line InfluxDB cannot store): the write is first split per agent, so every other agent's
    batches are written (and acked) at once; only the offending agent's lines are bisected down to the
    rejected lines, which go to the quarantine file with a reason, counted per agent and reason.
- A batch an agent sends again is never written twice (pending: its ``done`` waits for the first copy's
  write; written recently: acked again at once). An 8-byte checksum (CRC-32, length) per remembered sequence
  number detects a sequence number reused with different content, which is logged and counted (``seq_reused``).
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
import zlib
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agent import wire
from collector.acks import AckPublisher
from collector.errors import WriteError
from collector.influx import InfluxClient
from collector.loglimit import LogLimiter
from collector.quarantine import QuarantineFile
from collector.validate import Accepted
from collector.write_latency import WriteLatency
from common.backoff import Backoff
from common.ranges import seqs_to_ranges

log = logging.getLogger("collector.pipeline")

COUNTERS = ("batches_accepted", "points_accepted", "points_written", "batches_written", "acks_sent", "acks_failed",
            "write_errors", "points_quarantined", "duplicates_dropped", "duplicates_reacked", "own_points",
            "seq_reused", "quarantine_dropped")
"""Every counter of ``PipelineStats.counters`` (exported as metrics even while still zero)."""

OWN = "(collector)"
"""The owner name of the collector's own points in per-agent counters."""


def digest(data: bytes) -> bytes:
    """The small content hash kept per remembered sequence number: CRC-32 and length (it tells a changed batch
    from a resent one; it need not resist forgery, and CRC-32 costs a fifth of blake2b on every payload)."""
    return struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def content_reason(message: str) -> str:
    """A short, stable label for why InfluxDB rejected a line (a metric label)."""
    low = message.lower()
    for marker, reason in (("field type conflict", "field_type_conflict"), ("unable to parse", "unable_to_parse"),
                           ("beyond retention", "beyond_retention"), ("max-values-per-tag", "max_values_per_tag"),
                           ("max-series-per-database", "max_series"), ("bad timestamp", "bad_timestamp"),
                           ("invalid", "invalid")):
        if marker in low:
            return reason
    return "rejected"


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
    done: list[Callable[[], None]] = field(default_factory=list)
    """Run once the lines are written or finally rejected (the consumer's PUBACK)."""
    digest: bytes = b""
    finished: bool = False

    @property
    def owner(self) -> str:
        return self.batch.agent if self.batch else OWN


@dataclass
class PipelineStats:
    counters: Counter[str] = field(default_factory=Counter)
    quarantined: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Quarantined points by (agent, reason)."""


class Pipeline:
    def __init__(
        self, writer: InfluxClient, acks: AckPublisher, *, batch_points: int = 5000, flush_interval: float = 0.2,
        max_pending_points: int = 200_000, quarantine_path: Path | None = None, max_concurrent_writes: int = 2,
        remember_written: int = 2048, quarantine_max_bytes: int = 32 * 1024 * 1024,
        loglimit: LogLimiter | None = None, clock_ns: Callable[[], int] = time.time_ns,
        backoff: Callable[[], Backoff] = lambda: Backoff(0.5, 30.0),
    ) -> None:
        self.writer = writer
        self.acks = acks
        self.batch_points = batch_points
        self.flush_interval = flush_interval
        self.max_pending_points = max_pending_points
        self.max_concurrent_writes = max_concurrent_writes
        self.quarantine = QuarantineFile(quarantine_path, quarantine_max_bytes) if quarantine_path else None
        self.loglimit = loglimit or LogLimiter()
        self.clock_ns = clock_ns
        self.backoff = backoff
        self.stats = PipelineStats()
        self.write_latency = WriteLatency()
        """InfluxDB's answer times (collector/write_latency.py)."""
        self.blocked: dict[str, int] = {}
        """InfluxDB failure reasons currently blocking writes (reason -> 1); empty when writes succeed."""
        self._queue: deque[_Pending] = deque()
        self._pending_points = 0  # accepted and not yet written (queued + being written)
        self._queued_points = 0  # accepted and not yet taken by a write
        self._have = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self._pending_seqs: dict[str, dict[int, _Pending]] = {}  # agent -> seqs queued or being written
        self._written: dict[str, dict[int, bytes]] = {}  # agent -> recent written seqs -> digest (insertion order)
        self.remember_written = remember_written

    @property
    def pending_points(self) -> int:
        return self._pending_points

    @property
    def pending_batches(self) -> int:
        return len(self._queue)

    def knows(self, agent: str, seq: int) -> bool:
        """True when ``seq`` of ``agent`` is pending or was written recently (a resend, not new data)."""
        return seq in self._pending_seqs.get(agent, {}) or seq in self._written.get(agent, {})

    async def add(self, accepted: Accepted, *, content: bytes | None = None,
                  done: Callable[[], None] | None = None) -> None:
        """Queue an agent's accepted batch (``content``: its payload, for the reuse check; ``done``: run once
        it is written or finally rejected). Waits while too much is pending (InfluxDB slow or down).

        A batch the agent sent again (it had no ack yet) is not written twice: if it is still pending it is
        dropped (its ``done`` waits for the first copy), if it was written recently it is acked again at once."""
        batch = _Batch(accepted.identity.agent, accepted.seq)
        dig = digest(content if content is not None else b"\n".join(accepted.lines))
        pending = self._pending_seqs.get(batch.agent, {}).get(batch.seq)
        if pending is not None:
            self.stats.counters["duplicates_dropped"] += 1
            self._check_reuse(batch, pending.digest, dig)
            if done is not None:
                pending.done.append(done)
            return
        written = self._written.get(batch.agent, {}).get(batch.seq)
        if written is not None:
            self.stats.counters["duplicates_reacked"] += 1
            self._check_reuse(batch, written, dig)
            await self._ack([_Pending([], batch)], count=False)
            if done is not None:
                done()
            return
        item = _Pending(accepted.lines, batch, [done] if done else [], dig)
        self._pending_seqs.setdefault(batch.agent, {})[batch.seq] = item
        await self._enqueue(item)
        self.stats.counters["batches_accepted"] += 1
        self.stats.counters["points_accepted"] += len(accepted.lines)

    def _check_reuse(self, batch: _Batch, known: bytes, new: bytes) -> None:
        if known != new:
            self.stats.counters["seq_reused"] += 1
            self.loglimit.log(log, logging.WARNING, f"reuse:{batch.agent}",
                              "agent %s sent sequence number %d again with different content: the new content is "
                              "dropped (the agent's queue was reset or it is misbehaving)", batch.agent, batch.seq)

    async def add_own(self, lines: list[bytes], done: Callable[[], None] | None = None) -> None:
        """Queue the collector's own points (status, clock, stats); they are written like the agents' and
        need no ack. Waits while too much is pending, like ``add``."""
        await self._enqueue(_Pending(lines, done=[done] if done else []))
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
        backoff = self.backoff()
        try:
            while True:
                todo = [p for p in chunk if not p.finished]
                try:
                    await self._write_items(todo)
                    break
                except WriteError as exc:
                    self.stats.counters["write_errors"] += 1
                    delay = backoff.next()
                    pending = self._pending_points
                    if exc.kind == "blocked":
                        self.blocked[exc.reason] = 1
                        self.loglimit.log(log, logging.ERROR, f"blocked:{exc.reason}",
                                          "InfluxDB refuses every write (%s): nothing is acked and the data is kept "
                                          "until an operator fixes it; %d points pending; retrying in %.1fs",
                                          exc, pending, delay)
                    else:
                        self.loglimit.log(log, logging.WARNING, f"retry:{exc.reason}",
                                          "write failed (%s); %d points pending; retrying in %.1fs", exc, pending,
                                          delay)
                    await asyncio.sleep(delay)
            self.blocked.clear()
        finally:
            slots.release()
        await self._finish([p for p in chunk if not p.finished])

    async def _finish(self, items: list[_Pending]) -> None:
        """The items' lines are written (or quarantined): free their space, remember and ack them, run ``done``."""
        for p in items:
            p.finished = True
        self._pending_points -= sum(len(p.lines) for p in items)
        if self._pending_points < self.max_pending_points:
            self._space.set()
        self._remember_written(items)
        for p in items:  # PUBACK first: the data is written; an ack publish must not wait for our own PUBACKs
            for done in p.done:
                done()
        await self._ack(items)

    async def _write_items(self, items: list[_Pending]) -> None:
        lines = [line for p in items for line in p.lines]
        if not lines:
            return
        try:
            await self._write_split(lines)
            return
        except WriteError as exc:
            if exc.kind != "content":
                raise
            owners = {p.owner for p in items}
            self.loglimit.log(log, logging.WARNING, "content", "InfluxDB rejected a write of %d points from %d "
                              "agent(s) (%s): writing each agent's batches apart", len(lines), len(owners), exc)
        by_owner: dict[str, list[_Pending]] = {}
        for p in items:
            by_owner.setdefault(p.owner, []).append(p)
        offenders: list[tuple[list[bytes], list[_Pending]]] = []
        for group in by_owner.values():
            group_lines = [line for p in group for line in p.lines]
            if len(by_owner) > 1:
                try:
                    await self._write_split(group_lines)
                except WriteError as err:
                    if err.kind != "content":
                        raise
                else:
                    await self._finish(group)  # another agent's good batches: written and acked at once
                    continue
            offenders.append((group_lines, [p for p in group for _ in p.lines]))
        for group_lines, who in offenders:
            await self._bisect(group_lines, who)

    async def _write_split(self, lines: list[bytes]) -> None:
        """Write ``lines``; on 413 (too large) write halves instead, down to single lines."""
        started = time.perf_counter()
        try:
            await self.writer.write(b"\n".join(lines))
        except WriteError as exc:
            if exc.status:  # InfluxDB answered (an error): that is a latency too
                self.write_latency.observe(time.perf_counter() - started)
            if exc.kind != "too_large" or len(lines) == 1:
                raise
            self.loglimit.log(log, logging.WARNING, "too_large", "InfluxDB refused a write of %d points as too "
                              "large: writing it in halves", len(lines))
            mid = len(lines) // 2
            await self._write_split(lines[:mid])
            await self._write_split(lines[mid:])
            return
        self.write_latency.observe(time.perf_counter() - started)
        self.stats.counters["points_written"] += len(lines)

    async def _bisect(self, lines: list[bytes], owners: list[_Pending]) -> None:
        """Write halves separately until single rejected lines remain; those go to quarantine."""
        stack = [(lines, owners)]
        while stack:
            part, who = stack.pop()
            try:
                await self._write_split(part)
            except WriteError as exc:
                if exc.kind != "content":
                    raise
                if len(part) == 1:
                    self._quarantine(who[0], part[0], str(exc))
                    continue
                mid = len(part) // 2
                stack.append((part[mid:], who[mid:]))
                stack.append((part[:mid], who[:mid]))

    def _quarantine(self, owner: _Pending, line: bytes, message: str) -> None:
        reason = content_reason(message)
        agent, seq = owner.owner, owner.batch.seq if owner.batch else None
        self.stats.counters["points_quarantined"] += 1
        self.stats.quarantined[(agent, reason)] += 1
        self.loglimit.log(log, logging.ERROR, f"quarantine:{agent}", "quarantined a point from agent %s batch %s: %s",
                          agent, seq, message[:300])
        if self.quarantine is not None:
            self.quarantine.add(agent, seq, message, line)
            self.stats.counters["quarantine_dropped"] = self.quarantine.dropped

    def _remember_written(self, items: list[_Pending]) -> None:
        for p in items:
            b = p.batch
            if b is None:
                continue
            self._pending_seqs.get(b.agent, {}).pop(b.seq, None)
            recent = self._written.setdefault(b.agent, {})
            recent[b.seq] = p.digest
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
                self.loglimit.log(log, logging.WARNING, "ack", "ack of %d batch(es) to agent %s failed: %s: %s",
                                  len(seqs), agent_id, type(exc).__name__, exc)
            else:
                self.stats.counters["acks_sent"] += 1
