"""An honest agent's ack latency and the collector's RSS while a hostile agent floods, as a ratio to the same
run without the flood (a benchmark, not a test; each run gets a fresh Mosquitto + InfluxDB + collector).

    python -m bench.hostile [--seconds 20]        (or: make bench-hostile)

Attacks: ``cardinality`` (30-point batches, every point a new series with 16 long emoji tags), ``rate``
(1,000-point batches as fast as the broker takes them), ``type_conflict`` (the honest agent's float field sent
as a string: InfluxDB rejects those lines, the collector bisects only the hostile agent's lines).
The honest agent sends a 20-point batch every 100 ms and times each batch from publish to the collector's ack;
``unacked`` counts its batches not acked 30 s after the flood stopped (delayed behind the flood in the broker's
queue for the collector, not lost: the broker still holds them). Latency figures cover acked batches only.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as paho
import psutil

from agent import wire
from bench.common import start_ministack

INVENTORY = {"pc-honest": {"commune": "07900"}, "pc-hostile": {"commune": "05089"}}
EMOJI = "🌾"


def _client(port: int, agent: str) -> paho.Client:
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"bench-{agent}", protocol=paho.MQTTv5)
    c.max_inflight_messages_set(100)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def cardinality(seq: int) -> list[wire.Point]:
    t = time.time_ns()
    return [wire.Point(m="bench", t=t + i, f={"v": 1.0},
                       tg={f"k{j:02d}": EMOJI * 200 + f"{seq}-{i}-{j}" for j in range(16)}) for i in range(30)]


def rate(seq: int) -> list[wire.Point]:
    t = time.time_ns()
    return [wire.Point(m="bench", t=t + i, f={"v": 1.0}, tg={"series": f"h{i % 10}"}) for i in range(1000)]


def type_conflict(seq: int) -> list[wire.Point]:
    t = time.time_ns()
    return [wire.Point(m="bench", t=t + i, f={"v": "text"}, tg={"series": f"s{i % 20}"}) for i in range(100)]


ATTACKS: dict[str, Callable[[int], list[wire.Point]] | None] = {
    "none": None, "cardinality": cardinality, "rate": rate, "type_conflict": type_conflict}


def flood(port: int, make: Callable[[int], list[wire.Point]], stop: threading.Event) -> int:
    c = _client(port, "pc-hostile")
    seq = 0
    while not stop.is_set():
        seq += 1
        batch = wire.Batch(v=1, agent="pc-hostile", seq=seq, sent=time.time_ns(), points=make(seq))
        c.publish(wire.topic("pc-hostile", "metrics"), wire.encode(batch), qos=1).wait_for_publish(30)
    c.loop_stop()
    c.disconnect()
    return seq


def run(attack: str, seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        ms = start_ministack(Path(tmp), INVENTORY)
        try:
            time.sleep(2.0)  # let the collector connect and subscribe (a benchmark, not a test)
            collector = psutil.Process(ms.services[-1].pid())
            sent: dict[int, float] = {}
            latency: list[float] = []
            lock = threading.Lock()

            def on_ack(_c: object, _u: object, m: paho.MQTTMessage) -> None:
                now = time.perf_counter()
                with lock:
                    for lo, hi in wire.decode_ack(m.payload).ranges:
                        for s in range(lo, hi + 1):
                            if s in sent:
                                latency.append(now - sent.pop(s))

            honest = _client(ms.mqtt_port, "pc-honest")
            honest.on_message = on_ack
            honest.subscribe(wire.topic("pc-honest", "ack"), qos=1)
            stop = threading.Event()
            hostile_batches = [0]
            make = ATTACKS[attack]
            thread = None
            if make is not None:
                thread = threading.Thread(target=lambda: hostile_batches.__setitem__(
                    0, flood(ms.mqtt_port, make, stop)), daemon=True)
                thread.start()
            rss: list[float] = []
            end = time.monotonic() + seconds
            seq = 0
            while time.monotonic() < end:
                seq += 1
                t = time.time_ns()
                pts = [wire.Point(m="bench", t=t + i, f={"v": float(i)}, tg={"series": f"s{i}"}) for i in range(20)]
                with lock:
                    sent[seq] = time.perf_counter()
                honest.publish(wire.topic("pc-honest", "metrics"), wire.encode(
                    wire.Batch(v=1, agent="pc-honest", seq=seq, sent=t, points=pts)), qos=1)
                rss.append(collector.memory_info().rss / 2**20)
                time.sleep(0.1)
            stop.set()
            deadline = time.monotonic() + 30
            while sent and time.monotonic() < deadline:
                time.sleep(0.1)
            if thread:
                thread.join(30)
            honest.loop_stop()
            honest.disconnect()
            lat = sorted(latency)
            return {"median_ms": statistics.median(lat) * 1000 if lat else float("nan"),
                    "p95_ms": (statistics.quantiles(lat, n=20)[-1] if len(lat) > 1 else lat[0]) * 1000 if lat
                    else float("nan"),
                    "rss_mb": max(rss), "unacked": float(len(sent)), "hostile_batches": float(hostile_batches[0])}
        finally:
            ms.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--attacks", default=",".join(ATTACKS))
    args = ap.parse_args()
    results = {a: run(a, args.seconds) for a in args.attacks.split(",")}
    base = results.get("none")
    print(f"{'attack':<14} {'median ms':>10} {'p95 ms':>8} {'RSS MB':>7} {'x median':>9} {'x p95':>7} {'x RSS':>6} "
          f"{'unacked':>8} {'hostile batches':>16}")
    for a, r in results.items():
        def ratio(k: str, r: dict[str, float] = r) -> float:
            return r[k] / base[k] if base else float("nan")

        print(f"{a:<14} {r['median_ms']:>10.1f} {r['p95_ms']:>8.1f} {r['rss_mb']:>7.1f} {ratio('median_ms'):>9.2f} "
              f"{ratio('p95_ms'):>7.2f} {ratio('rss_mb'):>6.2f} {r['unacked']:>8.0f} {r['hostile_batches']:>16.0f}")


if __name__ == "__main__":
    main()
