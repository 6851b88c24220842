"""Acks out: the pipeline hands each agent's written sequence ranges to an ``AckPublisher``.

``MqttAckPublisher`` publishes on ``cm/v1/<agent>/ack`` (QoS 1) over the collector's current MQTT session;
without one it raises ``AckError``. The pipeline counts and logs every failed ack (``acks_failed``); the
agent sends the batch again and the collector acks it then (without writing it twice).
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import aiomqtt

from agent import wire
from collector.errors import CollectorError


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
        async with asyncio.timeout(self.timeout):
            await client.publish(wire.topic(agent, "ack"), payload, qos=1)
