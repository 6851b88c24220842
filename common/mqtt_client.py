"""A small asyncio MQTT 3.1.1 client: what the agent's publisher needs and nothing else.

The agent runs on old office PCs, where aiomqtt with paho-mqtt under it cost ~3.7 MiB resident (measured,
docs/benchmarks.md) for a session that only connects with a will, publishes at QoS 0/1 with a bounded number
in flight, subscribes to one topic and reads what arrives there. The collector and the simulator keep aiomqtt.

    async with Client("broker", 1883, identifier="pc-a", will=Will(topic, b"offline", 1, True)) as client:
        await client.publish(topic, payload, qos=1)   # returns when the broker's PUBACK arrives
        await client.subscribe(ack_topic, qos=1)
        async for message in client.messages: ...

Every network wait has a deadline: the connect and each acknowledgement (``timeout``); a silent broker is found by
the keepalive (PINGREQ after ``keepalive`` seconds without sending, no PINGRESP within ``keepalive``, at least
``timeout``). A lost
connection fails every pending call and the message iterator with ``MqttError``; the caller reconnects.
Clean sessions only (the agent keeps its own queue on disk until the collector acknowledges a batch).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import struct
import time
from collections.abc import AsyncIterator
from typing import NamedTuple

log = logging.getLogger(__name__)

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 1, 2, 3, 4, 8, 9, 12, 13, 14
REFUSED = {1: "unacceptable protocol version", 2: "identifier rejected", 3: "server unavailable",
           4: "bad user name or password", 5: "not authorized"}
MAX_PACKET = 268_435_455  # the largest remaining length MQTT can express


class MqttError(Exception):
    """The connection failed or was lost (the caller reconnects)."""


class MqttRefused(MqttError):
    """The broker refused the connection (CONNACK return code)."""

    def __init__(self, code: int) -> None:
        super().__init__(f"connection refused: {REFUSED.get(code, 'unknown reason')} (code {code})")
        self.code = code


class Will(NamedTuple):
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False


class Message(NamedTuple):
    topic: str
    payload: bytes
    qos: int
    retain: bool


def _str(s: str | bytes) -> bytes:
    b = s.encode() if isinstance(s, str) else s
    if len(b) > 0xFFFF:
        raise ValueError("MQTT string longer than 65535 bytes")
    return struct.pack("!H", len(b)) + b


def _packet(kind: int, flags: int, body: bytes) -> bytes:
    n = len(body)
    if n > MAX_PACKET:
        raise ValueError(f"MQTT packet of {n} bytes is too large")
    out = bytearray([kind << 4 | flags])
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            break
    return bytes(out) + body


def connect_packet(identifier: str, keepalive: int, username: str | None, password: str | None,
                   will: Will | None) -> bytes:
    flags = 0x02  # clean session
    payload = _str(identifier)
    if will is not None:
        flags |= 0x04 | (will.qos & 3) << 3 | (0x20 if will.retain else 0)
        payload += _str(will.topic) + _str(will.payload)
    if username is not None:
        flags |= 0x80
        payload += _str(username)
        if password is not None:
            flags |= 0x40
            payload += _str(password)
    return _packet(CONNECT, 0, _str("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive) + payload)


class Client:
    def __init__(self, host: str, port: int = 1883, *, identifier: str, username: str | None = None,
                 password: str | None = None, keepalive: int = 60, timeout: float = 10.0, will: Will | None = None,
                 tls_context: ssl.SSLContext | None = None, max_inflight: int = 20, max_queued: int = 1000) -> None:
        self.host, self.port, self.identifier = host, port, identifier
        self.username, self.password, self.will = username, password, will
        self.keepalive, self.timeout, self.tls_context = keepalive, timeout, tls_context
        self._inflight = asyncio.Semaphore(max_inflight)
        self._incoming: asyncio.Queue[Message | None] = asyncio.Queue(max_queued)
        self.dropped = 0
        """Messages dropped because nobody read them (the queue of ``max_queued`` was full)."""
        self._pending: dict[int, asyncio.Future[bytes]] = {}
        self._next_id = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._lost: MqttError | None = None
        self._last_sent = 0.0
        self._pong = asyncio.Event()

    # connection ---------------------------------------------------------------------------------
    async def __aenter__(self) -> Client:
        where = f"{self.host}:{self.port}"
        try:
            async with asyncio.timeout(self.timeout):
                self._reader, self._writer = await asyncio.open_connection(
                    self.host, self.port, ssl=self.tls_context,
                    server_hostname=self.host if self.tls_context is not None else None)
                self._send(connect_packet(self.identifier, self.keepalive, self.username, self.password, self.will))
                kind, _flags, body = await self._read_packet()
        except TimeoutError:
            self._close()
            raise MqttError(f"connect to {where}: no CONNACK within {self.timeout:g}s") from None
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            self._close()
            raise MqttError(f"connect to {where}: {exc or type(exc).__name__}") from exc
        if kind != CONNACK or len(body) != 2:
            self._close()
            raise MqttError(f"connect to {where}: expected CONNACK, got packet type {kind}")
        if body[1]:
            self._close()
            raise MqttRefused(body[1])
        self._tasks = [asyncio.create_task(self._read_loop()), asyncio.create_task(self._keepalive_loop())]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._lost is None and self._writer is not None:
            with contextlib.suppress(OSError, TimeoutError):
                self._send(_packet(DISCONNECT, 0, b""))
                async with asyncio.timeout(self.timeout):
                    await self._writer.drain()
        self._fail(MqttError("client closed"))
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._writer is not None:
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(self.timeout):
                    await self._writer.wait_closed()

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()

    def _fail(self, error: MqttError) -> None:
        """The connection is gone: every pending call and the message iterator raise ``error``."""
        if self._lost is not None:
            return
        self._lost = error
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(error)
                fut.exception()  # retrieved: no "never retrieved" warning when nobody waits on it any more
        self._pending.clear()
        if self._incoming.full():  # make room for the end marker: the iterator must see the loss
            self._incoming.get_nowait()
        self._incoming.put_nowait(None)
        self._close()

    # sending ------------------------------------------------------------------------------------
    def _send(self, packet: bytes) -> None:
        assert self._writer is not None
        self._writer.write(packet)
        self._last_sent = time.monotonic()

    async def _drain(self) -> None:
        assert self._writer is not None
        try:
            async with asyncio.timeout(max(self.keepalive, self.timeout)):
                await self._writer.drain()
        except (OSError, TimeoutError) as exc:
            error = MqttError(f"sending to {self.host}:{self.port}: {exc or 'timed out'}")
            self._fail(error)
            raise error from exc

    def _check(self) -> None:
        if self._lost is not None:
            raise self._lost
        if self._writer is None:
            raise MqttError("not connected")

    def _packet_id(self) -> tuple[int, asyncio.Future[bytes]]:
        for _ in range(0xFFFF):
            self._next_id = self._next_id % 0xFFFF + 1
            if self._next_id not in self._pending:
                fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
                self._pending[self._next_id] = fut
                return self._next_id, fut
        raise MqttError("no free packet identifier")

    async def _acknowledged(self, pid: int, fut: asyncio.Future[bytes], what: str) -> bytes:
        try:
            async with asyncio.timeout(self.timeout):
                return await fut
        except TimeoutError:
            error = MqttError(f"{what}: no acknowledgement within {self.timeout:g}s")
            self._fail(error)
            raise error from None
        finally:
            self._pending.pop(pid, None)

    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        """Send a message; at QoS 1, return when the broker has acknowledged it (PUBACK)."""
        if qos not in (0, 1):
            raise ValueError("this client publishes at QoS 0 or 1")
        self._check()
        if qos == 0:
            self._send(_packet(PUBLISH, 0x01 if retain else 0, _str(topic) + payload))
            await self._drain()
            return
        async with self._inflight:
            self._check()
            pid, fut = self._packet_id()
            self._send(_packet(PUBLISH, 0x02 | (0x01 if retain else 0), _str(topic) + struct.pack("!H", pid) + payload))
            await self._drain()
            await self._acknowledged(pid, fut, f"publish to {topic}")

    async def subscribe(self, topic: str, qos: int = 0) -> None:
        self._check()
        if qos not in (0, 1):
            raise ValueError("this client subscribes at QoS 0 or 1")
        pid, fut = self._packet_id()
        self._send(_packet(SUBSCRIBE, 0x02, struct.pack("!H", pid) + _str(topic) + bytes([qos])))
        await self._drain()
        codes = await self._acknowledged(pid, fut, f"subscribe to {topic}")
        if not codes or codes[0] == 0x80:
            raise MqttError(f"subscribe to {topic}: refused by the broker")

    @property
    def messages(self) -> AsyncIterator[Message]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[Message]:
        while True:
            message = await self._incoming.get()
            if message is None:
                assert self._lost is not None
                raise self._lost
            yield message

    # receiving ----------------------------------------------------------------------------------
    async def _read_packet(self) -> tuple[int, int, bytes]:
        assert self._reader is not None
        first = (await self._reader.readexactly(1))[0]
        length, shift = 0, 0
        while True:
            digit = (await self._reader.readexactly(1))[0]
            length |= (digit & 0x7F) << shift
            if not digit & 0x80:
                break
            shift += 7
            if shift > 21:
                raise ValueError("malformed remaining length")
        return first >> 4, first & 0x0F, await self._reader.readexactly(length) if length else b""

    async def _read_loop(self) -> None:
        try:
            while True:
                kind, flags, body = await self._read_packet()
                self._dispatch(kind, flags, body)
        except asyncio.CancelledError:
            raise
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError, struct.error) as exc:
            reason = "connection closed by the broker" if isinstance(exc, asyncio.IncompleteReadError) else str(exc)
            self._fail(MqttError(f"{self.host}:{self.port}: {reason or type(exc).__name__}"))

    def _dispatch(self, kind: int, flags: int, body: bytes) -> None:
        if kind == PUBLISH:
            qos = flags >> 1 & 3
            n = struct.unpack_from("!H", body)[0]
            topic = body[2:2 + n].decode()
            at = 2 + n
            if qos:
                if qos != 1:
                    raise ValueError(f"QoS {qos} message on {topic}: this client subscribes at QoS 0 or 1")
                self._send(_packet(PUBACK, 0, body[at:at + 2]))
                at += 2
            message = Message(topic, body[at:], qos, bool(flags & 1))
            try:
                self._incoming.put_nowait(message)
            except asyncio.QueueFull:
                self.dropped += 1
                log.warning("mqtt: incoming queue full, dropped a message on %s (%d so far)", topic, self.dropped)
        elif kind in (PUBACK, SUBACK):
            fut = self._pending.get(struct.unpack_from("!H", body)[0])
            if fut is not None and not fut.done():
                fut.set_result(body[2:])
        elif kind == PINGRESP:
            self._pong.set()
        else:
            raise ValueError(f"unexpected MQTT packet type {kind}")

    async def _keepalive_loop(self) -> None:
        if self.keepalive <= 0:
            return
        while self._lost is None:
            idle = time.monotonic() - self._last_sent
            if idle < self.keepalive:
                await asyncio.sleep(self.keepalive - idle)
                continue
            self._pong.clear()
            self._send(_packet(PINGREQ, 0, b""))
            wait = max(self.keepalive, self.timeout)  # as paho: a slow commune link gets a whole keepalive
            try:
                async with asyncio.timeout(wait):
                    await self._pong.wait()
            except TimeoutError:
                self._fail(MqttError(f"{self.host}:{self.port}: no PINGRESP within {wait:g}s"))
