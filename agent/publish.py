"""MQTT session: publishes queued batches (QoS 1), receives the collector's acks, keeps a retained
online status with a last will that says offline, and reconnects with jittered exponential backoff.

Every batch carries the agent's latest clock offset estimate (``Batch.clock_offset_ms``: collector clock
minus agent clock, from the ``time`` of the last ack), so the collector can flag a skewed clock.

A batch leaves the disk queue only when an ack names its sequence number. Unacked batches are sent
again, in order, after every reconnect and whenever the oldest unacked one waited ``ack_timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

from agent import __version__, wire
from agent.config import AgentConfig, mqtt_password
from agent.errors import QueueError
from agent.queue import DiskQueue
from agent.reachability import wait_or_reachable
from agent.wire import Point
from common.backoff import Backoff
from common.mqtt import client_tls_context, mqtt_error
from common.mqtt_client import Client, Will

log = logging.getLogger("agent.publish")


@dataclass
class PublishStats:
    batches_built: int = 0
    published: int = 0
    resent: int = 0
    acked: int = 0
    bad_acks: int = 0
    reconnects: int = 0
    waits_cut_short: int = 0
    """Reconnect backoff waits ended early because the broker accepted TCP again (the link came back)."""
    last_scheduled_delay: float = 0.0
    queue_errors: int = 0
    connected: bool = False
    clock_offset_ms: float | None = None


def tls_context(cfg: AgentConfig) -> ssl.SSLContext | None:
    tls = cfg.mqtt.tls
    if tls is None:
        return None
    return client_tls_context(tls.ca_file, tls.cert_file, tls.key_file, tls.insecure_skip_verify)


class Publisher:
    def __init__(self, cfg: AgentConfig, queue: DiskQueue, clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.cfg = cfg
        self.queue = queue
        self.clock_ns = clock_ns
        self.stats = PublishStats()
        self._wakeup = asyncio.Event()
        self._memory_only: dict[int, bytes] = {}  # batches the disk refused (full disk): sent from memory
        self._sent_at: dict[int, float] = {}
        self._topic = wire.topic(cfg.agent_id, "metrics")
        self._status_topic = wire.topic(cfg.agent_id, "status")
        self._ack_topic = wire.topic(cfg.agent_id, "ack")

    # producer side ----------------------------------------------------------------------------
    def submit(self, points: list[Point]) -> int:
        """Store a batch durably and wake the sender. Returns its sequence number."""

        def build(seq: int) -> bytes:
            return wire.encode(wire.Batch(v=wire.SCHEMA_VERSION, agent=self.cfg.agent_id, seq=seq,
                                          sent=self.clock_ns(), points=points,
                                          clock_offset_ms=self.stats.clock_offset_ms))

        self.stats.batches_built += 1
        try:
            seq, _ = self.queue.put(build)
        except QueueError as exc:
            self.stats.queue_errors += 1
            seq = self.queue.next_seq - 1
            log.error("queue: %s; sending batch %d from memory only", exc, seq)
            self._memory_only[seq] = build(seq)
            while len(self._memory_only) > 1000:
                self._memory_only.pop(min(self._memory_only))
        self._wakeup.set()
        return seq

    # session ----------------------------------------------------------------------------------
    def _status(self, state: str) -> bytes:
        return wire.encode(wire.Status(v=wire.SCHEMA_VERSION, state=state, time=self.clock_ns(),  # type: ignore[arg-type]
                                       version=__version__))

    def _client(self) -> Client:
        m = self.cfg.mqtt
        return Client(
            m.host, m.port, username=m.username or self.cfg.agent_id, password=mqtt_password(self.cfg),
            identifier=self.cfg.agent_id, keepalive=m.keepalive, timeout=float(m.connect_timeout),
            will=Will(self._status_topic, self._status("offline"), qos=1, retain=True),
            tls_context=tls_context(self.cfg), max_inflight=self.cfg.queue.max_inflight,
        )

    async def run(self) -> None:
        backoff = Backoff(self.cfg.mqtt.reconnect_min, self.cfg.mqtt.reconnect_max)
        while True:
            try:
                async with self._client() as client:
                    backoff.reset()
                    self.stats.connected = True
                    log.info("connected to mqtt %s:%d", self.cfg.mqtt.host, self.cfg.mqtt.port)
                    try:
                        await self._session(client)
                    finally:
                        with contextlib.suppress(Exception):
                            async with asyncio.timeout(2):
                                await client.publish(self._status_topic, self._status("offline"), qos=1, retain=True)
            except Exception as exc:  # MQTT errors may arrive wrapped in an ExceptionGroup
                err = mqtt_error(exc)
                if err is None:
                    raise
                log.warning("mqtt: %s", err)
            finally:
                self.stats.connected = False
            self.stats.reconnects += 1
            delay = backoff.next()
            self.stats.last_scheduled_delay = delay
            log.info("reconnecting in %.1fs (sooner if the broker is reachable again)", delay)
            if await wait_or_reachable(delay, self.cfg.mqtt.host, self.cfg.mqtt.port,
                                       float(self.cfg.mqtt.reachability_check)):
                self.stats.waits_cut_short += 1
                log.info("broker reachable again: reconnecting now")

    async def _session(self, client: Client) -> None:
        await client.publish(self._status_topic, self._status("online"), qos=1, retain=True)
        await client.subscribe(self._ack_topic, qos=1)
        self._sent_at.clear()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._receive(client))
            await self._send_loop(client, tg)

    async def _receive(self, client: Client) -> None:
        async for message in client.messages:
            if str(message.topic) != self._ack_topic or not isinstance(message.payload, bytes | bytearray):
                continue
            try:
                ack = wire.decode_ack(bytes(message.payload))
            except wire.WireError as exc:
                self.stats.bad_acks += 1
                log.warning("ignoring bad ack: %s", exc)
                continue
            self.stats.clock_offset_ms = (ack.time - self.clock_ns()) / 1e6
            try:
                self.stats.acked += self.queue.ack(list(ack.ranges))
            except QueueError as exc:
                log.error("%s", exc)
            for lo, hi in ack.ranges:
                for seq in [s for s in self._sent_at if lo <= s <= hi]:
                    del self._sent_at[seq]
                for seq in [s for s in self._memory_only if lo <= s <= hi]:
                    del self._memory_only[seq]
            self._wakeup.set()

    async def _send_loop(self, client: Client, tg: asyncio.TaskGroup) -> None:
        window = asyncio.Semaphore(self.cfg.queue.max_inflight)
        ack_timeout = float(self.cfg.queue.ack_timeout)
        cursor = 0
        timeout, acked_seen = ack_timeout, self.stats.acked
        resending: set[int] = set()
        while True:
            self._wakeup.clear()
            try:
                rows = self.queue.pending(cursor, limit=self.cfg.queue.max_inflight)
            except QueueError as exc:
                log.error("%s", exc)
                rows = []
            rows += sorted((s, p) for s, p in self._memory_only.items() if s > cursor and s not in self._sent_at)
            rows.sort()
            if rows:
                for seq, payload in rows[: self.cfg.queue.max_inflight]:
                    await window.acquire()
                    if seq in self._sent_at or seq in resending:
                        self.stats.resent += 1
                        resending.discard(seq)
                    self._sent_at[seq] = time.monotonic()
                    tg.create_task(self._publish(client, payload, window))
                    cursor = max(cursor, seq)
                continue
            if self.stats.acked != acked_seen:  # progress: back to the configured timeout
                acked_seen, timeout = self.stats.acked, ack_timeout
            oldest = min(self._sent_at.values(), default=None)
            wait = timeout if oldest is None else max(0.0, oldest + timeout - time.monotonic())
            if oldest is not None and wait <= 0:
                log.warning("%d batch(es) unacked for %.0fs: sending them again", len(self._sent_at), timeout)
                timeout = min(timeout * 2, ack_timeout * 16)  # no ack at all: the collector is down; back off
                resending = set(self._sent_at)
                self._sent_at.clear()  # batches dropped from the queue meanwhile are simply not found again
                cursor = 0
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wakeup.wait()

    async def _publish(self, client: Client, payload: bytes, window: asyncio.Semaphore) -> None:
        try:
            await client.publish(self._topic, payload, qos=1)
            self.stats.published += 1
        finally:
            window.release()
