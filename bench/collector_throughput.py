"""Collector throughput: MQTT -> collector -> InfluxDB, as a ratio of InfluxDB's direct ingest of the same
points (one client posting 5,000-point batches), measured in the same run on the same InfluxDB.

    python -m bench.collector_throughput [--agents 50] [--batches 20] [--points 500]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import urllib.request
from pathlib import Path

import paho.mqtt.client as paho

from agent import wire
from bench.common import start_ministack
from collector.config import parse_inventory
from collector.lineproto import LineEncoder
from collector.registry import communes

PROVINCE_AGENTS = 148 * 3  # communes x PCs, a generous estimate
POINTS_PER_AGENT_PER_MIN = 60


def build(agents: list[str], batches: int, points: int, t0: int) -> list[tuple[str, bytes]]:
    out = []
    for b in range(batches):
        for a in agents:
            pts = [wire.Point(m="synthetic", t=t0 + b * points + i, f={"n": b * points + i, "value": 0.5 * i},
                              tg={"run": "bench", "series": f"s{i % 20}"}) for i in range(points)]
            out.append((wire.topic(a, "metrics"), wire.encode(wire.Batch(v=1, agent=a, seq=b + 1, sent=t0, points=pts))))
    return out


def direct_ingest(url: str, inventory_src: dict[str, dict[str, str]], msgs: list[tuple[str, bytes]]) -> float:
    inv = parse_inventory({"agents": inventory_src}, "bench")
    enc = LineEncoder()
    lines: list[bytes] = []
    for topic, payload in msgs:
        batch = wire.decode_batch(payload)
        tags = inv.agents[wire.parse_topic(topic)[0]].tags()
        lines += [enc.line(p.m, {**p.tg, **tags}, p.f, p.t).encode() for p in batch.points]
    req = urllib.request.Request(f"{url}/query", data=b"q=CREATE+DATABASE+ref", method="POST")
    urllib.request.urlopen(req, timeout=30).read()
    start = time.perf_counter()
    for i in range(0, len(lines), 5000):
        body = b"\n".join(lines[i:i + 5000])
        r = urllib.request.Request(f"{url}/write?db=ref&precision=ns", data=body, method="POST")
        urllib.request.urlopen(r, timeout=60).read()
    return len(lines) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=50)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--points", type=int, default=500)
    args = ap.parse_args()
    codes = list(communes())
    agents = [f"bench-{i:03d}" for i in range(args.agents)]
    inventory = {a: {"commune": codes[i % len(codes)], "site": "main"} for i, a in enumerate(agents)}
    root = Path(tempfile.mkdtemp(prefix="cm-bench-"))
    ms = start_ministack(root, inventory)
    try:
        t0 = time.time_ns() - 3600 * 10**9
        msgs = build(agents, args.batches, args.points, t0)
        total = len(msgs) * args.points
        ref_rate = direct_ingest(ms.influx_url, inventory, msgs)
        # Give the collector's session a moment to exist at the broker, then publish everything.
        pub = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="bench-publisher")
        pub.max_inflight_messages_set(1000)
        pub.max_queued_messages_set(0)
        pub.connect("127.0.0.1", ms.mqtt_port)
        pub.loop_start()
        start = time.perf_counter()
        infos = [pub.publish(t, p, qos=1) for t, p in msgs]
        for info in infos:
            info.wait_for_publish(120)
        published = time.perf_counter() - start
        while ms.count("synthetic") < total:
            time.sleep(0.2)
            if time.perf_counter() - start > 600:
                raise SystemExit("timed out waiting for the collector")
        elapsed = time.perf_counter() - start
        pub.loop_stop()
        rate = total / elapsed
        need = PROVINCE_AGENTS * POINTS_PER_AGENT_PER_MIN / 60
        print(f"{len(msgs)} batches x {args.points} points = {total} points from {args.agents} agents")
        print(f"InfluxDB direct ingest (1 client, 5000-point batches): {ref_rate:,.0f} points/s")
        print(f"MQTT -> collector -> InfluxDB: {rate:,.0f} points/s (published in {published:.1f}s, stored in {elapsed:.1f}s)")
        print(f"ratio collector/direct: {rate / ref_rate:.2f}x")
        print(f"province need (~{PROVINCE_AGENTS} agents x {POINTS_PER_AGENT_PER_MIN} points/min): {need:,.0f} points/s"
              f" -> headroom {rate / need:,.0f}x")
    finally:
        ms.stop()


if __name__ == "__main__":
    main()
