"""A hostile (or broken) agent for the flood tests: a real MQTT client with its own identity in the inventory,
publishing batches as fast as the broker takes them and collecting the collector's acks; plus a /metrics reader.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable

import paho.mqtt.client as paho
from prometheus_client.parser import text_string_to_metric_families

from agent import wire

EMOJI = "🌾"


class HostileAgent:
    def __init__(self, port: int, agent_id: str = "pc-hostile") -> None:
        self.agent_id = agent_id
        self.acked: Counter[int] = Counter()
        self._lock = threading.Lock()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"{agent_id}-flood",
                                  protocol=paho.MQTTv5)
        self.client.username_pw_set(agent_id)
        self.client.max_inflight_messages_set(100)
        self.client.max_queued_messages_set(0)
        self.client.on_message = self._on_ack
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(wire.topic(agent_id, "ack"), qos=1)
        self.client.loop_start()

    def _on_ack(self, _c: object, _u: object, message: paho.MQTTMessage) -> None:
        ack = wire.decode_ack(message.payload)
        with self._lock:
            for lo, hi in ack.ranges:
                for seq in range(lo, hi + 1):
                    self.acked[seq] += 1

    def send(self, seq: int, points: list[wire.Point]) -> None:
        batch = wire.Batch(v=wire.SCHEMA_VERSION, agent=self.agent_id, seq=seq, sent=time.time_ns(), points=points)
        self.client.publish(wire.topic(self.agent_id, "metrics"), wire.encode(batch), qos=1).wait_for_publish(30)

    def acked_seqs(self) -> Counter[int]:
        with self._lock:
            return Counter(self.acked)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def cardinality_points(seq: int, n: int = 30) -> list[wire.Point]:
    """``n`` points, every one a new series with long (emoji) tag values, on the synthetic measurement."""
    base = time.time_ns()
    return [wire.Point(m="synthetic", t=base + i, f={"n": seq * 1000 + i, "value": 1.0},
                       tg={"run": EMOJI * 120 + f"{seq}", "series": EMOJI * 120 + f"{i}"}) for i in range(n)]


def rate_points(seq: int, n: int = 100) -> list[wire.Point]:
    """``n`` points on a handful of series (distinct timestamps): volume, not cardinality."""
    base = time.time_ns()
    return [wire.Point(m="synthetic", t=base + i, f={"n": seq * 1000 + i, "value": 1.0},
                       tg={"run": "flood", "series": f"s{i % 3}"}) for i in range(n)]


class Metrics:
    """The collector's /metrics as {(name, sorted labels): value}."""

    def __init__(self, port: int) -> None:
        self.port = port

    def read(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            text = r.read().decode()
        return {(s.name.removeprefix("commune_collector_"), tuple(sorted(s.labels.items()))): s.value
                for f in text_string_to_metric_families(text) for s in f.samples}

    def value(self, name: str, **labels: str) -> float:
        try:
            return self.read().get((name, tuple(sorted(labels.items()))), 0.0)
        except OSError:
            return -1.0

    def when(self, check: Callable[[Metrics], bool]) -> bool:
        try:
            return check(self)
        except OSError:
            return False
