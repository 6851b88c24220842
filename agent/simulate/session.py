"""One virtual agent's MQTT session: its own username and password, the real topics, QoS 1 batches, a retained
online status with a last will, and the collector's acks (a batch is forgotten only when an ack names it).

No disk queue (the simulator keeps unacked batches in memory) but the same protocol as ``agent.publish``:
unacked batches are sent again after a reconnect and when no ack came for ``ack_timeout``. Sequence numbers
start at the run's start time in microseconds, so a new run never reuses a number with different content.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass

import aiomqtt

from agent import __version__, wire
from common.mqtt import mqtt_error

log = logging.getLogger("agent.simulate")


@dataclass
class Totals:
    """Counters over every session of a run."""

    connected: int = 0
    connects: int = 0
    connect_failures: int = 0
    batches: int = 0
    points: int = 0
    published: int = 0
    acked: int = 0
    acked_points: int = 0


class Session:
    def __init__(self, agent_id: str, password: str | None, host: str, port: int, totals: Totals, *,
                 seq_base: int, max_unacked: int = 20, ack_timeout: float = 30.0, keepalive: int = 60) -> None:
        self.agent_id = agent_id
        self.password = password
        self.host, self.port = host, port
        self.totals = totals
        self.max_unacked = max_unacked
        self.ack_timeout = ack_timeout
        self.keepalive = keepalive
        self.next_seq = seq_base
        self.outbox: deque[tuple[int, bytes, int]] = deque()  # (seq, payload, points) not yet sent
        self.unacked: dict[int, tuple[bytes, int]] = {}
        self.want_online = True
        self.clock_offset_ms: float | None = None
        self.clock_skew_s = 0.0
        """This agent's clock minus true time (the scenario's clock_off), for its clock-offset estimate."""
        self._wake = asyncio.Event()
        self._acked = asyncio.Event()
        self._topic = wire.topic(agent_id, "metrics")
        self._status = wire.topic(agent_id, "status")
        self._ack = wire.topic(agent_id, "ack")

    # -- producer side -----------------------------------------------------------------------------
    def submit(self, points: list[wire.Point], sent_ns: int) -> None:
        seq = self.next_seq
        self.next_seq += 1
        payload = wire.encode(wire.Batch(v=wire.SCHEMA_VERSION, agent=self.agent_id, seq=seq, sent=sent_ns,
                                         points=points, clock_offset_ms=self.clock_offset_ms))
        self.outbox.append((seq, payload, len(points)))
        self.totals.batches += 1
        self.totals.points += len(points)
        self._wake.set()

    def set_online(self, online: bool) -> None:
        if online != self.want_online:
            self.want_online = online
            self._wake.set()

    @property
    def backlog(self) -> int:
        return len(self.outbox) + len(self.unacked)

    async def drained(self, below: int = 1) -> None:
        """Until fewer than ``below`` batches wait to be sent or acked."""
        while self.backlog >= below:
            self._acked.clear()
            await self._acked.wait()

    # -- the connection ----------------------------------------------------------------------------
    def _status_payload(self, state: str) -> bytes:
        return wire.encode(wire.Status(v=wire.SCHEMA_VERSION, state=state,  # type: ignore[arg-type]
                                       time=time.time_ns(), version=f"{__version__}+sim"))

    async def run(self, connect_slots: asyncio.Semaphore) -> None:
        delay = 1.0
        while True:
            while not self.want_online:
                self._wake.clear()
                await self._wake.wait()
            try:
                async with connect_slots:  # bounds the connect storm, not the number of connections
                    client = aiomqtt.Client(
                        self.host, self.port, username=self.agent_id, password=self.password,
                        identifier=self.agent_id, keepalive=self.keepalive, timeout=30,
                        will=aiomqtt.Will(self._status, self._status_payload("offline"), qos=1, retain=True),
                        max_inflight_messages=self.max_unacked)
                    client.pending_calls_threshold = self.max_unacked + 10
                    await client.__aenter__()
                try:
                    self.totals.connects += 1
                    self.totals.connected += 1
                    delay = 1.0
                    await self._session(client)
                finally:
                    self.totals.connected -= 1
                    with contextlib.suppress(Exception):
                        await client.__aexit__(None, None, None)
            except Exception as exc:
                err = mqtt_error(exc)
                if err is None:
                    raise
                self.totals.connect_failures += 1
                log.warning("%s: mqtt: %s", self.agent_id, err)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _session(self, client: aiomqtt.Client) -> None:
        await client.publish(self._status, self._status_payload("online"), qos=1, retain=True)
        await client.subscribe(self._ack, qos=1)
        # after a reconnect everything unacked goes again, oldest first
        self.outbox.extendleft((s, p, n) for s, (p, n) in sorted(self.unacked.items(), reverse=True))
        self.unacked.clear()
        receiver = asyncio.create_task(self._receive(client))
        try:
            await self._send(client)
        finally:
            # offline on purpose (link cut, PC switched off, run over): what the broker's will would say
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await client.publish(self._status, self._status_payload("offline"), qos=1, retain=True)
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver

    async def _send(self, client: aiomqtt.Client) -> None:
        last_progress = time.monotonic()
        acked_seen = self.totals.acked
        while self.want_online:
            self._wake.clear()
            if self.outbox and len(self.unacked) < self.max_unacked:
                seq, payload, n = self.outbox.popleft()
                self.unacked[seq] = (payload, n)
                await client.publish(self._topic, payload, qos=1)
                self.totals.published += 1
                continue
            if self.totals.acked != acked_seen:
                acked_seen, last_progress = self.totals.acked, time.monotonic()
            if self.unacked and time.monotonic() - last_progress > self.ack_timeout:
                self.outbox.extendleft((s, p, n) for s, (p, n) in sorted(self.unacked.items(), reverse=True))
                self.unacked.clear()
                last_progress = time.monotonic()
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.ack_timeout / 2):
                    await self._wake.wait()

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            if str(message.topic) != self._ack or not isinstance(message.payload, bytes | bytearray):
                continue
            try:
                ack = wire.decode_ack(bytes(message.payload))
            except wire.WireError as exc:
                log.warning("%s: ignoring bad ack: %s", self.agent_id, exc)
                continue
            self.clock_offset_ms = (ack.time - time.time_ns()) / 1e6 - self.clock_skew_s * 1000.0
            for lo, hi in ack.ranges:
                for seq in [s for s in self.unacked if lo <= s <= hi]:
                    _, n = self.unacked.pop(seq)
                    self.totals.acked += 1
                    self.totals.acked_points += n
            self._acked.set()
            self._wake.set()
