"""The foundation slice against real services: agent process -> Mosquitto -> collector process -> InfluxDB."""

from __future__ import annotations

import http.server
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
import yaml

from agent import wire
from agent.queue import DiskQueue
from devstack import services as stack
from tests.support.services import Influx, wait_for

pytestmark = pytest.mark.integration


class _Portal(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = "Cổng dịch vụ công — hoạt động".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def portal() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Portal)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def write_configs(tmp: Path, mqtt_port: int, influx: Influx, db: str, portal: str) -> tuple[Path, Path]:
    (tmp / "fleet.yaml").write_text(yaml.safe_dump({"agents": {
        "pc-viettri-01": {"commune": "07900", "site": "tru-so-chinh"},
        "pc-injector": {"commune": "05089", "site": "diem-2"},
    }}))
    ccfg = tmp / "collector.yaml"
    ccfg.write_text(yaml.safe_dump({
        "inventory": "fleet.yaml", "stats_interval": 0.5,
        "mqtt": {"port": mqtt_port, "client_id": f"collector-{db}"},
        "influx": {"url": influx.url, "database": db, "flush_interval": 0.05},
    }))
    acfg = tmp / "agent.yaml"
    acfg.write_text(yaml.safe_dump({
        "agent": {"id": "pc-viettri-01"},
        "mqtt": {"port": mqtt_port},
        "queue": {"flush_interval": "100ms", "ack_timeout": "5s"},
        "probes": {
            "host": {"interval": "1s"},
            "ping": {"interval": "1s", "count": 3, "packet_interval": "50ms", "targets": [{"host": "127.0.0.1", "name": "loopback"}]},
            "http": {"interval": "1s", "targets": [{"name": "cong-dvc", "url": portal, "expect": "hoạt động"}]},
        },
    }))
    return ccfg, acfg


def run_processes(tmp: Path, ccfg: Path, acfg: Path) -> tuple[stack.Service, stack.Service]:
    collector = stack.python_service("collector", tmp / "c", ["collector.cli", "run", "-c", str(ccfg), "--state-dir", str(tmp / "c")], lambda: True)
    agent = stack.python_service("agent", tmp / "a", ["agent.cli", "run", "-c", str(acfg), "--state-dir", str(tmp / "a")], lambda: True)
    collector.start()
    agent.start()
    return collector, agent


def test_agent_to_influxdb_with_rejections(tmp_path: Path, mosquitto: int, influx: tuple[Influx, str], portal: str) -> None:
    server, db = influx
    ccfg, acfg = write_configs(tmp_path, mosquitto, server, db, portal)
    collector, agent = run_processes(tmp_path, ccfg, acfg)
    try:
        # a few cycles of every probe arrive, with the inventory's tags
        def three_rounds() -> list[dict[str, object]] | None:
            rows = server.rows('SELECT * FROM "ping"', db)
            return rows if len(rows) >= 3 else None

        ping_rows = wait_for(three_rounds, 60, what="3 ping rounds in InfluxDB")
        row = ping_rows[0]
        assert row["commune"] == "07900" and row["commune_name"] == "Phường Việt Trì"
        assert row["province"] == "25" and row["site"] == "tru-so-chinh" and row["agent"] == "pc-viettri-01"
        assert row["target"] == "127.0.0.1" and row["result"] == "ok" and row["loss_percent"] == 0.0
        http_rows = wait_for(lambda: server.rows('SELECT * FROM "http"', db), 30, what="http points")
        assert http_rows[0]["service"] == "cong-dvc" and http_rows[0]["status_code"] == 200
        assert http_rows[0]["result"] == "ok"
        host_rows = wait_for(lambda: server.rows('SELECT * FROM "host"', db), 30, what="host points")
        assert host_rows[0]["mem_total_bytes"] > 0
        assert wait_for(lambda: server.rows('SELECT * FROM "host_net"', db), 30, what="interface points")

        # bad input around good input: a good batch, malformed, unknown agent, identity lie, good batch
        pub = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="injector")
        pub.connect("127.0.0.1", mosquitto)
        pub.loop_start()
        t0 = time.time_ns()

        def good(seq: int) -> bytes:
            return wire.encode(wire.Batch(v=1, agent="pc-injector", seq=seq, sent=t0, points=[
                wire.Point(m="synthetic", t=t0 + seq, f={"n": seq}, tg={"run": "inj", "series": "s0"})]))

        msgs = [
            ("cm/v1/pc-injector/metrics", good(1)),
            ("cm/v1/pc-injector/metrics", b'{"v":1,"agent":"pc-injector","seq":'),
            ("cm/v1/pc-nobody/metrics", good(2)),
            ("cm/v1/pc-injector/metrics", wire.encode(wire.Batch(v=1, agent="pc-viettri-01", seq=3, sent=t0, points=[
                wire.Point(m="synthetic", t=t0 + 3, f={"n": 3})]))),
            ("cm/v1/pc-injector/metrics", b'{"v":9,"agent":"pc-injector","seq":4,"sent":1,"points":[]}'),
            ("cm/v1/pc-injector/metrics", good(5)),
            # a batch whose agent says its clock is 2 minutes behind the collector's
            ("cm/v1/pc-injector/metrics", wire.encode(wire.Batch(v=1, agent="pc-injector", seq=6, sent=t0, points=[
                wire.Point(m="synthetic", t=t0 + 6, f={"n": 6})], clock_offset_ms=120_000.0))),
        ]
        for topic, payload in msgs:
            pub.publish(topic, payload, qos=1).wait_for_publish(10)
        pub.loop_stop()
        pub.disconnect()

        rows = wait_for(lambda: (r := server.rows('SELECT * FROM "synthetic"', db)) and len(r) >= 3 and r, 30,
                        what="the three good injected batches")
        assert sorted(r["n"] for r in rows) == [1, 5, 6]
        # the batch whose clock is 2 minutes behind (beyond clock_skew_max) is stored at agent time + offset
        assert next(r["time"] for r in rows if r["n"] == 6) == t0 + 6 + 120_000_000_000
        assert {r["commune"] for r in rows} == {"05089"}  # from the inventory, never from the payload

        def rejected() -> dict[str, object] | None:
            rows = server.rows('SELECT last(*) FROM "collector"', db)
            if not rows:
                return None
            r = rows[0]
            want = ("last_rejected_malformed", "last_rejected_unknown_agent", "last_rejected_identity_mismatch",
                    "last_rejected_bad_version")
            return r if all(r.get(k) for k in want) else None

        r = wait_for(rejected, 30, what="rejection counters in the collector measurement")
        assert r["last_rejected_malformed"] == 1 and r["last_rejected_unknown_agent"] == 1
        assert r["last_rejected_identity_mismatch"] == 1 and r["last_rejected_bad_version"] == 1
        assert collector.pid() is not None and agent.pid() is not None  # nothing crashed
        log = (tmp_path / "c" / "collector.log").read_text()
        assert "rejected message from agent pc-nobody" in log and "is not in the fleet inventory" in log

        skew = wait_for(lambda: server.rows('SELECT * FROM "agent_clock" WHERE "agent" = \'pc-injector\'', db), 30,
                        what="the clock-skew flag")
        assert skew[0]["skewed"] == 1 and skew[0]["offset_ms"] == 120_000.0 and skew[0]["commune"] == "05089"
        assert "agent pc-injector clock is off by 120.0s" in (tmp_path / "c" / "collector.log").read_text()
        # the real agent measured its offset from the collector's acks and sent it with its batches: same machine,
        # same clock, so it is flagged as fine (the offset is latency-sized, far below clock_skew_max)
        real = wait_for(lambda: server.rows('SELECT * FROM "agent_clock" WHERE "agent" = \'pc-viettri-01\'', db), 30,
                        what="the real agent's clock offset, sent in Batch.clock_offset_ms")
        assert all(r["skewed"] == 0 and abs(r["offset_ms"]) < 30_000 for r in real)
        assert "agent pc-viettri-01 clock is off" not in (tmp_path / "c" / "collector.log").read_text()
        # the retained status of the real agent is stored as agent_status
        status = wait_for(lambda: server.rows('SELECT * FROM "agent_status" WHERE "agent" = \'pc-viettri-01\'', db), 30,
                          what="the agent's online status in InfluxDB")
        assert status[-1]["state"] == "online" and status[-1]["online"] == 1 and status[-1]["commune"] == "07900"
        from agent import __version__ as agent_version

        assert status[-1]["version"] == agent_version  # from the agent's status message (fleet dashboard)

        # commune-collector status reads the latest reading per agent back from InfluxDB
        out = subprocess.run([sys.executable, "-m", "collector.cli", "status", "-c", str(ccfg)], capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        line = next(x for x in out.stdout.splitlines() if x.split()[1:2] == ["pc-viettri-01"])
        assert line.startswith("ok ")
        assert "07900" in line and "Phường Việt Trì" in line and "tru-so-chinh" in line and "1/1" in line
        # only the real agent runs probes (agent_probe is what "last seen" reads); the injector sends none
        assert "1 of 2 agents have reported" in out.stdout
        injector = next(x for x in out.stdout.splitlines() if x.split()[1:2] == ["pc-injector"])
        assert "never" in injector and injector.startswith("NEVER")

        # enough of the agent's batches written and acked for the queue check at the end to mean something
        # (3 of the acked messages are the injector's)
        wait_for(lambda: (rows := server.rows('SELECT last("messages_acked") AS n FROM "collector"', db))
                 and rows[0]["n"] >= 3 + 8, 60, what="eight of the agent's batches acked")
        agent_self = server.rows('SELECT * FROM "agent_probe"', db)
        assert {r["probe"] for r in agent_self} >= {"host", "ping", "http"}
        agent.stop()  # a clean stop publishes the retained offline status; the collector stores it
        offline = wait_for(lambda: [r for r in server.rows('SELECT * FROM "agent_status" WHERE "agent" = \'pc-viettri-01\'',
                                                           db) if r["state"] == "offline"], 30,
                           what="the agent's offline status in InfluxDB")
        assert offline[-1]["online"] == 0 and offline[-1]["site"] == "tru-so-chinh"
        # ... and `status` marks it
        out = subprocess.run([sys.executable, "-m", "collector.cli", "status", "-c", str(ccfg)], capture_output=True,
                             text=True, timeout=60)
        line = next(x for x in out.stdout.splitlines() if x.split()[1:2] == ["pc-viettri-01"])
        assert line.startswith("OFFLINE") and "offline or stale" in out.stdout
    finally:
        agent.stop()
        collector.stop()
    # the collector acked what it wrote: the agent's disk queue kept only the last few batches
    q = DiskQueue(tmp_path / "a" / "queue.sqlite", 10**9, 10**9)
    built = q.next_seq - 1
    assert built >= 5 and q.stats().depth < built / 2


def _watch_status(port: int, client_id: str, agent_id: str) -> tuple[paho.Client, queue.Queue[wire.Status]]:
    got: queue.Queue[wire.Status] = queue.Queue()
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id)
    c.on_message = lambda cl, u, m: got.put(wire.decode_status(m.payload))
    c.connect("127.0.0.1", port)
    c.subscribe(wire.topic(agent_id, "status"), qos=1)
    c.loop_start()
    return c, got


def test_retained_status_and_last_will(tmp_path: Path, mosquitto: int) -> None:
    acfg = tmp_path / "agent.yaml"
    acfg.write_text(yaml.safe_dump({"agent": {"id": "pc-will"}, "mqtt": {"port": mosquitto},
                                    "probes": {"host": {"interval": "1s"}}}))
    agent = stack.python_service("agent", tmp_path / "a", ["agent.cli", "run", "-c", str(acfg), "--state-dir",
                                                           str(tmp_path / "a")], lambda: True)
    sub, got = _watch_status(mosquitto, "watcher", "pc-will")
    try:
        agent.start()
        assert got.get(timeout=30).state == "online"
        agent.kill()  # no clean disconnect: the broker publishes the last will
        assert got.get(timeout=30).state == "offline"
    finally:
        sub.loop_stop()
        sub.disconnect()
        agent.stop()
    late, late_got = _watch_status(mosquitto, "late", "pc-will")  # a late subscriber sees the retained state
    try:
        assert late_got.get(timeout=30).state == "offline"
    finally:
        late.loop_stop()
        late.disconnect()
