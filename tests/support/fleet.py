"""A small fleet for integration tests: real agent and collector processes against real services.

Agents run the ``synthetic`` probe, whose points carry a per-process counter ``n`` (1, 2, 3 ...) under a
``run`` tag, so what InfluxDB holds can be checked point by point against what the agents produced.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agent import wire
from devstack import services as stack
from tests.support.services import Influx


@dataclass
class Fleet:
    root: Path
    mqtt_port: int
    influx: Influx
    db: str
    agents: dict[str, stack.Service] = field(default_factory=dict)
    collector: stack.Service | None = None
    inventory: dict[str, dict[str, str]] = field(default_factory=dict)
    mqtt_extra: dict[str, Any] = field(default_factory=dict)
    collector_extra: dict[str, Any] = field(default_factory=dict)

    def add_agent(self, agent_id: str, commune: str = "07900", site: str = "main", *, rounds: int = 100,
                  points_per_round: int = 20, interval: str = "100ms", queue: dict[str, Any] | None = None,
                  mqtt: dict[str, Any] | None = None) -> stack.Service:
        self.inventory[agent_id] = {"commune": commune, "site": site}
        d = self.root / agent_id
        d.mkdir(parents=True, exist_ok=True)
        cfg = {
            "agent": {"id": agent_id},
            "mqtt": {"port": self.mqtt_port, "reconnect_min": "200ms", "reconnect_max": "1s", **(mqtt or {})},
            "queue": {"flush_interval": "50ms", "ack_timeout": "3s", **(queue or {})},
            "self_metrics_interval": "1h",
            "probes": {"synthetic": {"interval": interval, "rounds": rounds, "points_per_round": points_per_round,
                                     "series": 5}},
        }
        (d / "agent.yaml").write_text(yaml.safe_dump(cfg))
        svc = stack.python_service(f"agent-{agent_id}", d, ["agent.cli", "run", "-c", str(d / "agent.yaml"),
                                                            "--state-dir", str(d)], lambda: True)
        self.agents[agent_id] = svc
        return svc

    def write_collector_config(self) -> Path:
        d = self.root / "collector"
        d.mkdir(parents=True, exist_ok=True)
        (d / "fleet.yaml").write_text(yaml.safe_dump({"agents": self.inventory}))
        cfg = {
            "inventory": "fleet.yaml", "stats_interval": 0.5,
            "mqtt": {"port": self.mqtt_port, "client_id": f"collector-{self.db}", "reconnect_max": 1.0,
                     **self.mqtt_extra},
            "influx": {"url": self.influx.url, "database": self.db, "flush_interval": 0.05, "timeout": 5.0},
            **self.collector_extra,
        }
        (d / "collector.yaml").write_text(yaml.safe_dump(cfg))
        return d / "collector.yaml"

    def start_collector(self) -> stack.Service:
        path = self.write_collector_config()
        d = path.parent
        self.collector = stack.python_service("collector", d, ["collector.cli", "run", "-c", str(path),
                                                               "--state-dir", str(d)], lambda: True)
        self.collector.start()
        return self.collector

    def stop(self) -> None:
        for svc in self.agents.values():
            svc.stop()
        if self.collector:
            self.collector.stop()

    def queue_path(self, agent_id: str) -> Path:
        return self.root / agent_id / "queue.sqlite"

    def queue_state(self, agent_id: str) -> tuple[int, int]:
        """(batches waiting in the agent's disk queue, batches dropped so far), read from its SQLite file."""
        path = self.queue_path(agent_id)
        if not path.exists():
            return 0, 0
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not {"batches", "meta"} <= tables:
                return 0, 0  # the agent has created the file but not yet its schema
            depth = db.execute("SELECT COUNT(*) FROM batches").fetchone()[0]
            row = db.execute("SELECT value FROM meta WHERE key='dropped_total'").fetchone()
        return int(depth), int(row[0]) if row else 0

    def queued_points(self, agent_id: str) -> set[tuple[str, int]]:
        """(run, n) of every synthetic point waiting in the agent's queue."""
        with sqlite3.connect(f"file:{self.queue_path(agent_id)}?mode=ro", uri=True, timeout=10) as db:
            payloads = [bytes(r[0]) for r in db.execute("SELECT payload FROM batches")]
        out = set()
        for payload in payloads:
            for p in wire.decode_batch(payload).points:
                if p.m == "synthetic":
                    out.add((p.tg["run"], int(p.f["n"])))
        return out

    def stored(self) -> dict[tuple[str, str], list[tuple[int, int]]]:
        """(agent, run) -> [(time, n)] in time order, as InfluxDB holds them."""
        out: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
        for s in self.influx.query('SELECT "n" FROM "synthetic" GROUP BY "agent", "run"', self.db):
            key = (s["tags"]["agent"], s["tags"]["run"])
            out[key] = [(int(t), int(n)) for t, n in s["values"]]
        return out

    def stored_count(self) -> int:
        rows = self.influx.query('SELECT count("n") FROM "synthetic"', self.db)
        return int(rows[0]["values"][0][1]) if rows else 0


def assert_complete_and_ordered(stored: dict[tuple[str, str], list[tuple[int, int]]]) -> int:
    """Every run's counter is 1..N without a gap, and time order equals production order. Returns points."""
    total = 0
    for key, rows in stored.items():
        ns = [n for _, n in rows]
        assert ns == sorted(ns), f"{key}: timestamps out of production order"
        assert ns == list(range(1, len(ns) + 1)), f"{key}: gap or duplicate in n (have {len(ns)}, max {max(ns)})"
        total += len(ns)
    return total
