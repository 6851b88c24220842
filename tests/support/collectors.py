"""Several collector processes sharing one broker (MQTT shared subscriptions), and a witness on the broker
that records every batch the agents publish and every ack the collectors send back."""

from __future__ import annotations

import threading
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
import yaml
from prometheus_client.parser import text_string_to_metric_families

from agent import wire
from devstack import services as stack
from tests.support.fleet import Fleet


@dataclass
class Member:
    name: str
    service: stack.Service
    metrics_port: int

    def metrics(self) -> dict[str, float]:
        """Sample name -> value summed over labels, from the collector's /metrics page ({} when down)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=3) as r:
                text = r.read().decode()
        except OSError:
            return {}
        out: dict[str, float] = defaultdict(float)
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                out[s.name] += s.value
        return dict(out)

    def value(self, name: str) -> float:
        return self.metrics().get(f"commune_collector_{name}", 0.0)


def start_members(fleet: Fleet, count: int, group: str = "writers", extra: dict[str, Any] | None = None) -> list[Member]:
    """``count`` collector processes in one shared group, each with its own client id, state and /metrics."""
    members = []
    for i in range(count):
        d = fleet.root / f"collector-{i}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "fleet.yaml").write_text(yaml.safe_dump({"agents": fleet.inventory}))
        port = stack.free_port()
        cfg = {
            "inventory": "fleet.yaml", "stats_interval": 0.5, "metrics_listen": f"127.0.0.1:{port}",
            "mqtt": {"port": fleet.mqtt_port, "client_id": f"collector-{fleet.db}-{i}", "shared_group": group,
                     "reconnect_max": 1.0},
            "influx": {"url": fleet.influx.url, "database": fleet.db, "flush_interval": 0.05, "timeout": 5.0},
            **(extra or {}),
        }
        (d / "collector.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
        svc = stack.python_service(f"collector-{i}", d, ["collector.cli", "run", "-c", str(d / "collector.yaml"),
                                                         "--state-dir", str(d)], stack.http_ready(
                                                             f"http://127.0.0.1:{port}/metrics"))
        svc.start()
        members.append(Member(f"collector-{i}", svc, port))
    return members


@dataclass
class Witness:
    """A plain (non-shared) subscriber: which batches each agent published, and how often each was acked."""

    port: int
    published: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    acks: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="witness", protocol=paho.MQTTv5)
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect("127.0.0.1", self.port)
        self.client.subscribe([(f"{wire.TOPIC_ROOT}/+/metrics", 1), (f"{wire.TOPIC_ROOT}/+/ack", 1)])
        self.client.loop_start()
        if not subscribed.wait(10):
            raise AssertionError("witness could not subscribe")

    def _on_message(self, _c: Any, _u: Any, m: paho.MQTTMessage) -> None:
        agent, kind = wire.parse_topic(m.topic)
        with self.lock:
            if kind == "metrics":
                self.published[agent].add(wire.decode_batch(m.payload).seq)
            elif kind == "ack":
                for lo, hi in wire.decode_ack(m.payload).ranges:
                    for seq in range(lo, hi + 1):
                        self.acks[agent][seq] += 1

    def unacked(self) -> dict[str, set[int]]:
        with self.lock:
            return {a: missing for a, seqs in self.published.items() if (missing := seqs - set(self.acks[a]))}

    def acked_more_than_once(self) -> dict[str, list[int]]:
        with self.lock:
            return {a: sorted(s for s, n in c.items() if n > 1) for a, c in self.acks.items() if any(
                n > 1 for n in c.values())}

    def batches(self) -> int:
        with self.lock:
            return sum(len(s) for s in self.published.values())

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
