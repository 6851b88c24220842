"""An honest agent beside a hostile one, against a real Mosquitto (passwords + the fleet ACL), a real InfluxDB and
the collector (in this process, so its /metrics is scraped).

Both agents are in the fleet inventory with their own credentials. ``Rig.honest_round`` publishes a batch of
schema-valid points as the honest agent and returns them; ``Rig.publish_hostile`` publishes raw payloads as the
hostile one; ``Rig.acked`` holds the sequence numbers each agent saw acked (each listens on its ack topic).
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as paho
import yaml
from prometheus_client.parser import text_string_to_metric_families

from agent import wire
from collector import broker
from collector.config import load_config, load_inventory
from collector.consume import Collector
from devstack.services import free_port
from tests.support.services import Influx, start_mosquitto

HONEST = "pc-honest"
HOSTILE = "pc-hostile"
HONEST_RUN = "honest"


@dataclass
class AgentClient:
    agent_id: str
    client: paho.Client
    acked: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)


@dataclass
class Rig:
    collector: Collector
    influx: Influx
    db: str
    metrics_port: int
    honest: AgentClient
    hostile: AgentClient
    next_seq: Counter[str] = field(default_factory=Counter)
    config_path: Path | None = None
    state_dir: Path | None = None

    def honest_round(self, n: int = 3) -> list[wire.Point]:
        """Publish one batch of ``n`` honest points (synthetic: n int, value float); return them."""
        self.next_seq[HONEST] += 1
        seq = self.next_seq[HONEST]
        t0 = time.time_ns()
        points = [wire.Point(m="synthetic", t=t0 + i, f={"n": seq * 1000 + i, "value": float(i) + 0.5},
                             tg={"run": HONEST_RUN, "series": f"s{i % 2}"}) for i in range(n)]
        self.honest.publish(wire.topic(HONEST, "metrics"),
                            wire.encode(wire.Batch(v=1, agent=HONEST, seq=seq, sent=t0, points=points)))
        return points

    def hostile_batch(self, points: list[wire.Point], clock_offset_ms: float | None = None) -> int:
        self.next_seq[HOSTILE] += 1
        seq = self.next_seq[HOSTILE]
        self.publish_hostile(wire.encode(wire.Batch(v=1, agent=HOSTILE, seq=seq, sent=time.time_ns(), points=points,
                                                    clock_offset_ms=clock_offset_ms)))
        return seq

    def publish_hostile(self, payload: bytes, topic: str | None = None) -> None:
        self.hostile.publish(topic or wire.topic(HOSTILE, "metrics"), payload)

    def metric(self, name: str, label: str = "agent") -> dict[str, float]:
        """One metric family of /metrics (a counter's ``_total`` or a gauge) by the value of ``label``."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as r:
            text = r.read().decode()
        return {s.labels.get(label, ""): s.value for fam in text_string_to_metric_families(text) if fam.name == name
                for s in fam.samples if s.name in (name, name + "_total")}

    def rejected(self) -> dict[tuple[str, str], float]:
        """/metrics ``commune_collector_rejected`` by (agent, reason)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as r:
            text = r.read().decode()
        out = {}
        for fam in text_string_to_metric_families(text):
            if fam.name == "commune_collector_rejected":
                for s in fam.samples:
                    if s.name.endswith("_total"):
                        out[(s.labels["agent"], s.labels["reason"])] = s.value
        return out

    def show(self, what: str) -> set[tuple[object, ...]]:
        """Rows of ``SHOW MEASUREMENTS`` / ``SHOW TAG KEYS`` / ``SHOW SERIES`` / ``SHOW FIELD KEYS``."""
        data = self.influx.query(f"SHOW {what}", self.db)
        return {(s.get("name", ""), *tuple(v)) for s in data for v in s.get("values") or []}

    def honest_rows(self) -> list[dict[str, object]]:
        return self.influx.rows(f'SELECT * FROM "synthetic" WHERE "run" = \'{HONEST_RUN}\'', self.db)


def _client(agent_id: str, password: str, port: int) -> AgentClient:
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=agent_id, protocol=paho.MQTTv311)
    c.username_pw_set(agent_id, password)
    ac = AgentClient(agent_id, c)
    subscribed = threading.Event()

    def on_connect(client: paho.Client, _u: object, _f: object, rc: object, _p: object = None) -> None:
        client.subscribe(wire.topic(agent_id, "ack"), qos=1)

    def on_subscribe(*_a: object) -> None:
        subscribed.set()

    def on_message(_c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        ack = wire.decode_ack(msg.payload)
        with ac.lock:
            for lo, hi in ack.ranges:
                for s in range(lo, hi + 1):
                    ac.acked[s] += 1

    c.on_connect = on_connect
    c.on_subscribe = on_subscribe
    c.on_message = on_message
    c.connect("127.0.0.1", port)
    c.loop_start()
    assert subscribed.wait(10), f"{agent_id} could not subscribe to its ack topic"
    return ac


@asynccontextmanager
async def honest_and_hostile(tmp: Path, influx: Influx, db: str, extra: dict[str, object] | None = None,
                             block: dict[str, object] | None = None) -> AsyncIterator[Rig]:
    """Broker with passwords and the fleet ACL, collector with /metrics, an honest and a hostile agent. ``extra``:
    more collector settings; ``block``: the ``block`` section, with the broker's ACL and pid file filled in."""
    d = tmp / "rig"
    d.mkdir()
    inv_path, passwd, acl = d / "fleet.yaml", d / "mosquitto.passwd", d / "mosquitto.acl"
    inv_path.write_text(yaml.safe_dump({"agents": {HONEST: {"commune": "07900", "site": "tru-so"},
                                                   HOSTILE: {"commune": "08740", "site": "diem-2"}}}))
    passwords = {a: secrets.token_hex(8) for a in (HONEST, HOSTILE, broker.COLLECTOR_USER)}
    broker.write_passwd(passwd, {a: broker.hash_password(p) for a, p in passwords.items() if a != broker.COLLECTOR_USER})
    broker.broker_files(load_inventory(inv_path), passwd, acl, passwords[broker.COLLECTOR_USER])
    port = free_port()
    svc, _ = start_mosquitto(d / "mosq", extra_conf=broker.listener_conf(port, passwd, acl) + "user root\n", anonymous=False,
                             port=port, plain_listener=False)
    metrics_port = free_port()
    cfg_path = d / "collector.yaml"
    cfg_path.write_text(yaml.safe_dump({
        "inventory": "fleet.yaml", "metrics_listen": f"127.0.0.1:{metrics_port}", "stats_interval": 0.5,
        "mqtt": {"port": port, "client_id": broker.COLLECTOR_USER, "username": broker.COLLECTOR_USER,
                 "password": passwords[broker.COLLECTOR_USER]},
        "influx": {"url": influx.url, "database": db, "flush_interval": 0.02}, **(extra or {}),
        **({"block": {"acl_file": str(acl), "pid_file": str(svc.pidfile), **block}} if block is not None else {}),
    }))
    collector = Collector(load_config(cfg_path), d / "state")
    task = asyncio.create_task(collector.run())
    honest = hostile = None
    try:
        async with asyncio.timeout(30):
            while not collector.connected:
                await asyncio.sleep(0.05)
        honest = await asyncio.to_thread(_client, HONEST, passwords[HONEST], port)
        hostile = await asyncio.to_thread(_client, HOSTILE, passwords[HOSTILE], port)
        yield Rig(collector, influx, db, metrics_port, honest, hostile, config_path=cfg_path, state_dir=d / "state")
    finally:
        for ac in (honest, hostile):
            if ac is not None:
                ac.client.loop_stop()
                ac.client.disconnect()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        svc.stop()
