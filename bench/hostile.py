"""An honest agent's ack latency and the collector's RSS while a hostile agent floods, as a ratio to the same
run without the flood (a benchmark, not a test; each run gets a fresh Mosquitto + InfluxDB + collector).

    python -m bench.hostile [--seconds 20] [--block on|off|both]      (or: make bench-hostile)

The broker runs with passwords and the fleet ACL (collector/broker.py) and the collector may block an agent at the
broker (collector/blocking.py): ``--block off`` is the collector refusing alone (the state before blocking),
``on`` blocks after 200 refused messages or 10 s over its limits (reasons: rate_limited, series_limit,
wrong_type). Both runs use ``burst_points`` 20,000 so the rate flood leaves its burst within seconds (with the
default 1,000,000 the flood is *allowed* for its first million points).

Points are the schema's ``synthetic`` measurement (earlier versions sent an undeclared measurement, so every point,
honest or not, was refused ``unknown_measurement``). Attacks: ``cardinality`` (30-point batches, every point a new
series with long emoji tag values), ``rate``
(1,000-point batches as fast as the broker takes them), ``type_conflict`` (the honest agent's float field sent
as a string: InfluxDB rejects those lines, the collector bisects only the hostile agent's lines).
The hostile agent runs in its own process. The honest agent sends a 20-point batch every 100 ms and times each batch from publish to the collector's ack;
``unacked`` counts its batches not acked 30 s after the flood stopped (delayed behind the flood in the broker's
queue for the collector, not lost: the broker still holds them). Latency figures cover acked batches only.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import secrets
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

import paho.mqtt.client as paho
import psutil
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from agent import wire
from bench.common import MiniStack
from collector import broker
from collector.config import load_inventory
from devstack import services as stack

INVENTORY = {"pc-honest": {"commune": "07900"}, "pc-hostile": {"commune": "05089"}}
EMOJI = "🌾"


PASSWORDS = {a: secrets.token_hex(8) for a in (*INVENTORY, broker.COLLECTOR_USER)}
BLOCK = {"after_messages": 200, "after_seconds": 10.0, "duration": 3600.0,
         "reasons": ["rate_limited", "series_limit", "wrong_type"]}


def start(root: Path, block: bool) -> MiniStack:
    """Mosquitto with passwords + the fleet ACL (its pid file for SIGHUP), InfluxDB, the collector."""
    d = root / "collector"
    d.mkdir(parents=True)
    (d / "fleet.yaml").write_text(yaml.safe_dump({"agents": INVENTORY}))
    passwd, acl = root / "mosquitto.passwd", root / "mosquitto.acl"
    broker.write_passwd(passwd, {a: broker.hash_password(p) for a, p in PASSWORDS.items()})
    broker.broker_files(load_inventory(d / "fleet.yaml"), passwd, acl)
    mqtt_port, influx_port = stack.free_port(), stack.free_port()
    mosq = stack.mosquitto(root / "mosquitto", mqtt_port, broker.listener_conf(mqtt_port, passwd, acl) + "user root\n",
                           anonymous=False, plain_listener=False)
    services = [mosq, stack.influxdb(root / "influxdb", influx_port, stack.free_port())]
    for s in services:
        s.start()
    ms = MiniStack(root, mqtt_port, influx_port, services)
    ms.query('CREATE DATABASE "bench"')
    cfg = {"inventory": "fleet.yaml", "limits": {"burst_points": 20_000},
           "mqtt": {"port": mqtt_port, "client_id": broker.COLLECTOR_USER, "username": broker.COLLECTOR_USER,
                    "password": PASSWORDS[broker.COLLECTOR_USER]},
           "influx": {"url": ms.influx_url, "database": "bench"},
           "block": {**BLOCK, "acl_file": str(acl), "pid_file": str(mosq.pidfile)} if block else {"enabled": False}}
    (d / "collector.yaml").write_text(yaml.safe_dump(cfg))
    c = stack.python_service("collector", d, ["collector.cli", "run", "-c", str(d / "collector.yaml"),
                                              "--state-dir", str(d)],
                              stack.log_says(d, "collector", "connected to mqtt"))  # its session, subscribed next
    c.start()
    services.append(c)
    return ms


def _client(port: int, agent: str) -> paho.Client:
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=agent, protocol=paho.MQTTv5)
    c.username_pw_set(agent, PASSWORDS[agent])
    c.max_inflight_messages_set(100)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def cardinality(seq: int) -> list[wire.Point]:
    t = time.time_ns()
    return [wire.Point(m="synthetic", t=t + i, f={"n": i, "value": 1.0},
                       tg={"run": EMOJI * 60 + f"{seq}-{i}", "series": EMOJI * 60 + f"{seq}-{i}"}) for i in range(30)]


def rate(seq: int) -> list[wire.Point]:
    t = time.time_ns()
    return [wire.Point(m="synthetic", t=t + i, f={"n": i, "value": 1.0}, tg={"run": "hostile", "series": f"h{i % 10}"})
            for i in range(1000)]


def type_conflict(seq: int) -> list[wire.Point]:
    t = time.time_ns()
    return [wire.Point(m="synthetic", t=t + i, f={"n": i, "value": "text"}, tg={"run": "honest", "series": f"s{i % 20}"})
            for i in range(100)]


ATTACKS: dict[str, Callable[[int], list[wire.Point]] | None] = {
    "none": None, "cardinality": cardinality, "rate": rate, "type_conflict": type_conflict}


def flood(port: int, attack: str, stop: EventType, count: Synchronized[int]) -> None:
    """The hostile agent, in its own process (sharing the bench's GIL would slow the honest agent's timing)."""
    make = ATTACKS[attack]
    assert make is not None
    c = _client(port, "pc-hostile")
    seq = 0
    while not stop.is_set():
        seq += 1
        batch = wire.Batch(v=1, agent="pc-hostile", seq=seq, sent=time.time_ns(), points=make(seq))
        c.publish(wire.topic("pc-hostile", "metrics"), wire.encode(batch), qos=1).wait_for_publish(30)
        count.value = seq
    c.loop_stop()
    c.disconnect()


def run(attack: str, seconds: float, block: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        ms = start(Path(tmp), block)
        try:
            time.sleep(1.0)  # the collector subscribes right after connecting (a benchmark, not a test)
            collector = psutil.Process(ms.services[-1].pid())
            sent: dict[int, float] = {}
            latency: list[float] = []
            lock = threading.Lock()

            def on_ack(_c: object, _u: object, m: paho.MQTTMessage) -> None:
                now = time.perf_counter()
                with lock:
                    for lo, hi in wire.decode_ack(bytes(m.payload)).ranges:
                        for s in range(lo, hi + 1):
                            if s in sent:
                                latency.append(now - sent.pop(s))

            ctx = mp.get_context("fork")  # the child keeps PASSWORDS
            stop, count = ctx.Event(), ctx.Value("q", 0)
            proc = None
            if ATTACKS[attack] is not None:
                proc = ctx.Process(target=flood, args=(ms.mqtt_port, attack, stop, count), daemon=True)
                proc.start()
            honest = _client(ms.mqtt_port, "pc-honest")
            honest.on_message = on_ack
            honest.subscribe(wire.topic("pc-honest", "ack"), qos=1)
            rss: list[float] = []
            t_start = time.monotonic()
            end = t_start + seconds
            blocked_at = float("nan")
            state = Path(tmp) / "collector" / "blocked.json"
            seq = 0
            while time.monotonic() < end:
                seq += 1
                t = time.time_ns()
                pts = [wire.Point(m="synthetic", t=t + i, f={"n": seq * 1000 + i, "value": float(i)},
                                  tg={"run": "honest", "series": f"s{i}"}) for i in range(20)]
                with lock:
                    sent[seq] = time.perf_counter()
                honest.publish(wire.topic("pc-honest", "metrics"), wire.encode(
                    wire.Batch(v=1, agent="pc-honest", seq=seq, sent=t, points=pts)), qos=1)
                rss.append(collector.memory_info().rss / 2**20)
                if blocked_at != blocked_at and state.exists():  # nan: not yet
                    blocked_at = time.monotonic() - t_start
                time.sleep(0.1)
            stop.set()
            deadline = time.monotonic() + 30
            while sent and time.monotonic() < deadline:
                time.sleep(0.1)
            if proc is not None:
                proc.join(30)
            honest.loop_stop()
            honest.disconnect()
            log = (Path(tmp) / "collector" / "collector.log").read_text(errors="replace").splitlines()
            for line in [x for x in log if "blocked" in x or "ERROR" in x or "WARNING" in x or "Traceback" in x or "stats:" in x][-6:]:
                print(f"  [{attack}] collector: {line[:200]}")
            lat = sorted(latency)
            return {"median_ms": statistics.median(lat) * 1000 if lat else float("nan"),
                    "p95_ms": (statistics.quantiles(lat, n=20)[-1] if len(lat) > 1 else lat[0]) * 1000 if lat
                    else float("nan"),
                    "rss_mb": max(rss), "unacked": float(len(sent)), "hostile_batches": float(count.value), "blocked_after_s": blocked_at}
        finally:
            ms.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--attacks", default=",".join(ATTACKS))
    ap.add_argument("--block", choices=("on", "off", "both"), default="both")
    args = ap.parse_args()
    for block in ([True, False] if args.block == "both" else [args.block == "on"]):
        table({a: run(a, args.seconds, block) for a in args.attacks.split(",")},
              "blocking at the broker" if block else "no blocking (the collector refuses alone)")


def table(results: dict[str, dict[str, float]], title: str) -> None:
    base = results.get("none")
    print(f"\n{title}")
    print(f"{'attack':<14} {'median ms':>10} {'p95 ms':>8} {'RSS MB':>7} {'x median':>9} {'x p95':>7} {'x RSS':>6} "
          f"{'unacked':>8} {'hostile batches':>16} {'blocked after s':>16}")
    for a, r in results.items():
        def ratio(k: str, r: dict[str, float] = r) -> float:
            return r[k] / base[k] if base else float("nan")

        print(f"{a:<14} {r['median_ms']:>10.1f} {r['p95_ms']:>8.1f} {r['rss_mb']:>7.1f} {ratio('median_ms'):>9.2f} "
              f"{ratio('p95_ms'):>7.2f} {ratio('rss_mb'):>6.2f} {r['unacked']:>8.0f} {r['hostile_batches']:>16.0f} "
              f"{r['blocked_after_s']:>16.1f}")


if __name__ == "__main__":
    main()
