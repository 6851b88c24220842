"""Collector throughput: Mosquitto -> collector -> InfluxDB, as a ratio of InfluxDB's own ingest of the SAME
points written directly over HTTP (one client posting 5,000-point batches, the collector's write size),
measured in the same run on the same InfluxDB.

Method: the collector is frozen (SIGSTOP) while every batch is published, so the broker holds them all; then
it is resumed and timed until InfluxDB holds every point: the publisher costs no CPU during the measurement,
only the broker, the collector and InfluxDB run. The direct ingest is measured just before and just after
(their mean is the reference), because other work on a shared machine changes InfluxDB's rate over minutes.
CPU seconds of each process during the drain are reported per 100k points. ``--profile`` runs the collector
under cProfile and prints its top functions.

    python -m bench.collector_throughput [--agents 50] [--batches 20] [--points 500] [--profile]
"""

from __future__ import annotations

import argparse
import json
import pstats
import signal
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import paho.mqtt.client as paho
import psutil
from paho.mqtt.enums import CallbackAPIVersion

from agent import wire
from bench.common import start_ministack
from bench.results import Row, record
from collector.config import parse_inventory
from collector.lineproto import LineEncoder
from collector.registry import communes

PROVINCE_POINTS_PER_S = 1780
"""Phú Thọ at 10 PCs per site (2,706 agents, default intervals): bench/province_load.py --pcs 10."""


def build(agents: list[str], batches: int, points: int, t0: int) -> list[tuple[str, bytes]]:
    out = []
    for b in range(batches):
        for a in agents:
            pts = [wire.Point(m="synthetic", t=t0 + b * points + i, f={"n": b * points + i, "value": 0.5 * i},
                              tg={"run": "bench", "series": f"s{i % 20}"}) for i in range(points)]
            out.append((wire.topic(a, "metrics"), wire.encode(wire.Batch(v=1, agent=a, seq=b + 1, sent=t0, points=pts))))
    return out


def direct_lines(inventory_src: dict[str, dict[str, str]], msgs: list[tuple[str, bytes]]) -> list[bytes]:
    """The same points as the collector writes them (same tags, same encoder)."""
    inv = parse_inventory({"agents": inventory_src}, "bench")
    enc = LineEncoder()
    lines: list[bytes] = []
    for topic, payload in msgs:
        batch = wire.decode_batch(payload)
        tags = inv.agents[wire.parse_topic(topic)[0]].tags()
        lines += [enc.line(p.m, {**p.tg, **tags}, p.f, p.t).encode() for p in batch.points]
    return lines


def direct_ingest(url: str, db: str, lines: list[bytes]) -> tuple[float, float]:
    """(points/s, InfluxDB CPU seconds are measured by the caller) of one client posting 5,000-point batches."""
    req = urllib.request.Request(f"{url}/query", data=f"q=CREATE+DATABASE+{db}".encode(), method="POST")
    urllib.request.urlopen(req, timeout=30).read()
    start = time.perf_counter()
    for i in range(0, len(lines), 5000):
        body = b"\n".join(lines[i:i + 5000])
        r = urllib.request.Request(f"{url}/write?db={db}&precision=ns", data=body, method="POST")
        urllib.request.urlopen(r, timeout=60).read()
    took = time.perf_counter() - start
    return len(lines) / took, took


def influx_writes(url: str) -> tuple[int, int]:
    """(write requests, points written) InfluxDB has served since it started (its ``/debug/vars``)."""
    with urllib.request.urlopen(f"{url}/debug/vars", timeout=30) as r:
        stats = json.loads(r.read())
    httpd = next(v["values"] for k, v in stats.items() if k.startswith("httpd"))
    return int(httpd.get("writeReq", 0)), int(httpd.get("pointsWrittenOK", 0))


def _cpu(p: psutil.Process) -> float:
    t = p.cpu_times()
    return float(t.user + t.system)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=50)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--points", type=int, default=500)
    ap.add_argument("--profile", action="store_true", help="run the collector under cProfile; print its top")
    ap.add_argument("--receive-maximum", type=int, default=0, help="the collector's mqtt.receive_maximum (0: default)")
    args = ap.parse_args(argv)
    codes = list(communes())
    agents = [f"bench-{i:03d}" for i in range(args.agents)]
    inventory = {a: {"commune": codes[i % len(codes)], "site": "main"} for i, a in enumerate(agents)}
    root = Path(tempfile.mkdtemp(prefix="cm-bench-"))
    prof_out = root / "collector.prof"
    extra: dict[str, object] = {"mqtt": {"receive_maximum": args.receive_maximum}} if args.receive_maximum else {}
    ms = start_ministack(root, inventory, profile=prof_out if args.profile else None, collector_extra=extra)
    collector = psutil.Process(ms.services[-1].pid())
    influx, broker = psutil.Process(ms.services[1].pid()), psutil.Process(ms.services[0].pid())
    try:
        t0 = time.time_ns() - 3600 * 10**9
        msgs = build(agents, args.batches, args.points, t0)
        total = len(msgs) * args.points
        lines = direct_lines(inventory, msgs)
        influx_cpu0 = _cpu(influx)
        ref_before, _ = direct_ingest(ms.influx_url, "ref1", lines)
        influx_cpu_direct = _cpu(influx) - influx_cpu0
        time.sleep(2)  # the subscription exists (the collector connected at start); freeze it and fill the broker
        collector.send_signal(signal.SIGSTOP)
        pub = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-publisher")
        pub.max_inflight_messages_set(1000)
        pub.max_queued_messages_set(0)
        pub.connect("127.0.0.1", ms.mqtt_port)
        pub.loop_start()
        infos = [pub.publish(t, p, qos=1) for t, p in msgs]
        for info in infos:
            info.wait_for_publish(120)
        pub.loop_stop()
        pub.disconnect()
        cpu0 = {n: _cpu(p) for n, p in (("collector", collector), ("influxdb", influx), ("mosquitto", broker))}
        sys0 = collector.cpu_times().system
        writes0 = influx_writes(ms.influx_url)
        start = time.perf_counter()
        collector.send_signal(signal.SIGCONT)
        # Wait on InfluxDB's write counter (cheap), then confirm with a count: a count query every 0.1 s scans
        # every point written so far and doubled InfluxDB's CPU in the drain.
        while influx_writes(ms.influx_url)[1] - writes0[1] < total or ms.count("synthetic") < total:
            time.sleep(0.05)
            if time.perf_counter() - start > 900:
                raise SystemExit("timed out waiting for the collector")
        elapsed = time.perf_counter() - start
        collector_sys = collector.cpu_times().system - sys0
        writes = [b - a for a, b in zip(writes0, influx_writes(ms.influx_url), strict=True)]
        cpu = {n: _cpu(p) - cpu0[n] for n, p in (("collector", collector), ("influxdb", influx),
                                                   ("mosquitto", broker))}
        influx_cpu0 = _cpu(influx)
        ref_after, _ = direct_ingest(ms.influx_url, "ref2", lines)
        influx_cpu_direct = (influx_cpu_direct + _cpu(influx) - influx_cpu0) / 2
        rate, ref = total / elapsed, (ref_before + ref_after) / 2
        need = PROVINCE_POINTS_PER_S
        per100k = {n: c / total * 1e5 for n, c in cpu.items()}
        print(f"{len(msgs)} batches x {args.points} points = {total} points from {args.agents} agents; "
              f"direct before {ref_before:,.0f}/s, after {ref_after:,.0f}/s; drain {elapsed:.1f}s; CPU s per 100k "
              f"points: " + ", ".join(f"{n} {v:.2f}" for n, v in per100k.items()) +
              f" (collector in the kernel {collector_sys / total * 1e5:.2f}); InfluxDB writes in the drain {writes[0]} "
              f"(mean {writes[1] / max(1, writes[0]):,.0f} points); InfluxDB CPU s per 100k points in the direct "
              f"ingest {influx_cpu_direct / total * 1e5:.2f}")
        record("collector", [
            Row("end-to-end Mosquitto -> collector -> InfluxDB", rate, "points/s", "InfluxDB direct ingest", ref,
                "ratio >= 0.8"),
            Row("collector CPU per 100k points", per100k["collector"], "CPU s", "InfluxDB's, same drain",
                per100k["influxdb"]),
            Row("InfluxDB CPU per 100k points in the drain", per100k["influxdb"], "CPU s", "InfluxDB's, direct ingest",
                influx_cpu_direct / total * 1e5),
            Row("mosquitto CPU per 100k points", per100k["mosquitto"], "CPU s"),
            Row("headroom over Phú Thọ at 10 PCs per site (~1,780 points/s)", rate / need, "x"),
        ], {"agents": args.agents, "batches": args.batches, "points": args.points, "total_points": total,
            "direct_before": ref_before, "direct_after": ref_after, "drain_s": elapsed,
            "influx_writes": writes[0], "influx_points_per_write": writes[1] / max(1, writes[0])})
    finally:
        ms.stop()
        if args.profile and prof_out.exists():
            pstats.Stats(str(prof_out), stream=sys.stdout).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
