"""Acks out: the pipeline hands each agent's written sequence ranges to an ``AckPublisher``.

``MqttAckPublisher`` publishes on ``cm/v1/<agent>/ack`` over the collector's current MQTT session at QoS 0
(``ACK_QOS``); without a session it raises ``AckError``. QoS 0 because the collector's socket is also its
intake's flow control: while more than Receive Maximum messages are in flight it stops reading it
(collector/consume.py), so a QoS 1 publish, whose completion is the broker's PUBACK read from that socket,
waited for the intake to drain and timed out under load (the acks of a whole province starved). A QoS 0
publish completes once written to the socket, which the read pause does not touch. It gives up nothing the
agents rely on (docs/architecture.md, "Acks"): an agent keeps every batch until an ack names it and sends
unacked ones again after ``queue.ack_timeout``; the collector then acks the resend without writing it twice
(collector/pipeline.py). The pipeline counts and logs every failed ack (``acks_failed``).
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import aiomqtt

from agent import wire
from collector.errors import CollectorError

ACK_QOS = 0
"""QoS of the ack publishes (see the module docstring for why not 1)."""


class AckError(CollectorError):
    """An ack could not be published."""


class AckPublisher(Protocol):
    async def publish(self, agent: str, payload: bytes) -> None:
        """Deliver an encoded ``wire.Ack`` to ``agent``; raise on failure."""


class MqttAckPublisher:
    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self.client: aiomqtt.Client | None = None
        """The connected session (set by the MQTT loop while connected, None otherwise)."""

    async def publish(self, agent: str, payload: bytes) -> None:
        client = self.client
        if client is None:
            raise AckError("not connected to MQTT")
        async with asyncio.timeout(self.timeout):  # written to the socket (QoS 0): never waits for the broker
            await client.publish(wire.topic(agent, "ack"), payload, qos=ACK_QOS)
