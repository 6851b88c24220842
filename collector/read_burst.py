"""Read MQTT packets in bursts: paho's ``loop_read`` reads one packet per call unless the client has QoS 1/2
publishes of its own outstanding (it reads as many packets as those). The collector publishes only QoS 0 acks
(collector/acks.py), so each message would cost one event-loop wake-up; under a backlog that made the intake
several times slower (province bench, catch-up). ``read_in_bursts`` makes the client's ``loop_read`` read up
to ``burst`` packets per call, stopping as soon as ``stop()`` says so (the collector's read pause, so it
still takes effect after the packet that crossed Receive Maximum) or the socket has nothing more.
"""

from __future__ import annotations

from collections.abc import Callable

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode

BURST = 64
"""Packets read per wake-up at most (paho's own loop_read reads one when nothing of ours is in flight)."""


def read_in_bursts(client: paho.Client, stop: Callable[[], bool], burst: int = BURST) -> None:
    """Replace ``client.loop_read`` (called by aiomqtt's socket reader) with a bursting one."""

    def loop_read(max_packets: int = 1) -> MQTTErrorCode:  # paho's loop_read, with ``burst`` and ``stop``
        for _ in range(burst):
            if client._sock is None:
                return MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = client._packet_read()
            if rc > 0:
                return client._loop_rc_handle(rc)
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN or stop():
                break
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    client.loop_read = loop_read  # type: ignore[method-assign]
