"""The agent's MQTT 3.1.1 client against a real Mosquitto (and, for what a broker cannot be made to do, a
scripted broker on a local socket)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiomqtt
import pytest

from common.mqtt import mqtt_error
from common.mqtt_client import CONNACK, PINGREQ, PUBACK, PUBLISH, Client, MqttError, MqttRefused, Will
from tests.support.services import start_mosquitto


async def _next(messages: AsyncIterator[aiomqtt.Message]) -> aiomqtt.Message:
    async with asyncio.timeout(30):
        return await anext(messages)


async def _drain(client: Client) -> None:
    """Read the client's messages until its iterator raises (the test's deadline: 60 s)."""
    async with asyncio.timeout(60):
        async for _ in client.messages:
            pass


async def test_publish_at_qos_1_and_0_reaches_a_subscriber_whole(mosquitto: int) -> None:
    big = bytes(range(256)) * 1200  # 300 KiB: a three-byte remaining length
    async with aiomqtt.Client("127.0.0.1", mosquitto, identifier="peer") as peer:
        await peer.subscribe("cm/t/#", qos=1)
        messages = aiter(peer.messages)
        async with Client("127.0.0.1", mosquitto, identifier="pc-a") as client:
            await client.publish("cm/t/one", b"{\"v\":1}", qos=1)
            await client.publish("cm/t/big", big, qos=1)
            await client.publish("cm/t/zero", b"0", qos=0)
        got = [await _next(messages) for _ in range(3)]
    assert [(str(m.topic), m.payload, m.qos) for m in got] == [
        ("cm/t/one", b"{\"v\":1}", 1), ("cm/t/big", big, 1), ("cm/t/zero", b"0", 0)]


async def test_retained_status_and_subscription_delivery(mosquitto: int) -> None:
    async with Client("127.0.0.1", mosquitto, identifier="pc-a") as client:
        await client.publish("cm/pc-a/status", b"online", qos=1, retain=True)
        await client.subscribe("cm/pc-a/ack", qos=1)
        async with aiomqtt.Client("127.0.0.1", mosquitto, identifier="collector") as peer:
            await peer.subscribe("cm/pc-a/status")
            retained = await _next(aiter(peer.messages))
            await peer.publish("cm/pc-a/ack", b"ack-1", qos=1)
            await peer.publish("cm/pc-a/ack", b"ack-2", qos=0)
        async with asyncio.timeout(30):
            it = aiter(client.messages)
            first, second = await anext(it), await anext(it)
    assert (retained.payload, retained.retain) == (b"online", True)
    assert [(m.topic, m.payload, m.qos) for m in (first, second)] == [("cm/pc-a/ack", b"ack-1", 1),
                                                                      ("cm/pc-a/ack", b"ack-2", 0)]


async def test_the_will_is_sent_when_the_connection_drops_and_not_on_a_clean_close(mosquitto: int) -> None:
    will = Will("cm/pc-a/status", b"offline", qos=1, retain=False)
    async with aiomqtt.Client("127.0.0.1", mosquitto, identifier="watcher") as peer:
        await peer.subscribe("cm/pc-a/status", qos=1)
        messages = aiter(peer.messages)
        async with Client("127.0.0.1", mosquitto, identifier="pc-a", will=will) as client:
            pass  # DISCONNECT: the broker drops the will
        async with Client("127.0.0.1", mosquitto, identifier="pc-a", will=will) as client:
            await client.publish("cm/pc-a/status", b"online", qos=1)
            assert client._writer is not None
            client._writer.transport.abort()  # the PC loses its link: no DISCONNECT
        got = [(await _next(messages)).payload for _ in range(2)]
    assert got == [b"online", b"offline"]


async def test_a_refused_connection_names_the_reason(tmp_path: Path) -> None:
    svc, port = start_mosquitto(tmp_path / "closed", anonymous=False)
    try:
        with pytest.raises(MqttRefused, match=r"not authorized|bad user name") as err:
            async with Client("127.0.0.1", port, identifier="pc-x", username="pc-x", password="wrong"):
                pass
        assert err.value.code in (4, 5) and mqtt_error(err.value) is err.value
    finally:
        svc.stop()


async def test_an_unreachable_broker_is_an_mqtt_error_naming_it() -> None:
    with contextlib.closing(__import__("socket").socket()) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: the connect is refused
        with pytest.raises(MqttError, match=f"connect to 127.0.0.1:{port}"):
            async with Client("127.0.0.1", port, identifier="pc-a", timeout=10):
                pass


async def test_a_lost_broker_fails_the_pending_publish_and_the_message_iterator(tmp_path: Path) -> None:
    svc, port = start_mosquitto(tmp_path / "m")
    async with Client("127.0.0.1", port, identifier="pc-a") as client:
        await client.subscribe("cm/pc-a/ack", qos=1)
        svc.stop()
        with pytest.raises(MqttError) as lost:
            await _drain(client)
        with pytest.raises(MqttError):
            await client.publish("cm/x", b"late", qos=1)
    assert mqtt_error(ExceptionGroup("session", [lost.value])) is lost.value


# --- a scripted broker: what Mosquitto cannot be made to do ---------------------------------------
Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, list[int]], Awaitable[None]]


async def _read(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    first = (await reader.readexactly(1))[0]
    length, shift = 0, 0
    while True:
        digit = (await reader.readexactly(1))[0]
        length |= (digit & 0x7F) << shift
        if not digit & 0x80:
            break
        shift += 7
    return first >> 4, await reader.readexactly(length)


@contextlib.asynccontextmanager
async def scripted(after_connack: Script) -> AsyncIterator[tuple[int, list[int]]]:
    """A broker that accepts the CONNECT, answers CONNACK, then runs ``after_connack`` (seen: packet types read)."""
    seen: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read(reader)
        writer.write(bytes([CONNACK << 4, 2, 0, 0]))
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await after_connack(reader, writer, seen)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1], seen


async def _record_forever(reader: asyncio.StreamReader, _w: asyncio.StreamWriter, seen: list[int]) -> None:
    while True:
        seen.append((await _read(reader))[0])


async def test_no_more_than_max_inflight_publishes_wait_for_their_puback() -> None:
    publishes: list[tuple[int, bytes]] = []  # (QoS, packet id)
    go = asyncio.Event()

    async def ack_later(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _seen: list[int]) -> None:
        while True:
            kind, body = await _read(reader)
            if kind == PUBLISH:
                qos = 1 if body[2 + int.from_bytes(body[:2], "big"):] != b"q0" else 0
                publishes.append((qos, body[4 + 2:4 + 2 + 2] if qos else b""))
            if go.is_set() and publishes and publishes[0][0] == 1:
                go.clear()
                writer.write(bytes([PUBACK << 4, 2]) + publishes[0][1])  # the first one acknowledged

    async with scripted(ack_later) as (port, _seen), \
            Client("127.0.0.1", port, identifier="pc-a", max_inflight=2, timeout=600) as client:
        tasks = [asyncio.create_task(client.publish("cm/t", b"q1", qos=1)) for _ in range(3)]
        # the three tasks start in the same turn of the loop: once two are at the broker, the third is waiting
        await _until(lambda: len(publishes) == 2)
        await client.publish("cm/t", b"q0", qos=0)  # QoS 0 is not windowed
        await _until(lambda: len(publishes) == 3)
        assert [q for q, _ in publishes] == [1, 1, 0] and not any(t.done() for t in tasks)
        go.set()
        await client.publish("cm/t", b"q0", qos=0)  # the broker acknowledges the first QoS 1 message
        await _until(lambda: tasks[0].done() and len(publishes) == 5)
        assert [q for q, _ in publishes] == [1, 1, 0, 0, 1]  # the window let the third one out
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _until(cond: Callable[[], bool]) -> None:
    async with asyncio.timeout(30):
        while not cond():
            await asyncio.sleep(0.01)


async def test_a_broker_that_stops_answering_pings_is_detected_by_the_keepalive() -> None:
    async with scripted(_record_forever) as (port, seen), \
            Client("127.0.0.1", port, identifier="pc-a", keepalive=1, timeout=1) as client:
        with pytest.raises(MqttError, match="no PINGRESP"):
            await _drain(client)
    assert PINGREQ in seen


async def test_a_malformed_packet_from_the_broker_is_a_lost_connection_not_a_crash() -> None:
    async def garbage(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, _seen: list[int]) -> None:
        writer.write(bytes([PUBLISH << 4 | 0x06, 0x02, 0x00, 0x10]))  # QoS 3, topic length past the packet
        await writer.drain()
        await _r.read()  # until the client hangs up

    async with scripted(garbage) as (port, _seen), Client("127.0.0.1", port, identifier="pc-a") as client:
        with pytest.raises(MqttError):
            await _drain(client)
