"""Scale-out: MQTT -> N collectors (one shared-subscription group) -> InfluxDB, for N = 1 and 2, with the CPU
each process (Mosquitto, InfluxDB, every collector) used during the run, so the limit is visible.

    python -m bench.scaleout [--agents 50] [--batches 20] [--points 500] [--collectors 1,2] [--out FILE]
"""

from __future__ import annotations

import argparse
import functools
import json
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import psutil
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from bench.collector_throughput import build, direct_ingest, direct_lines, influx_writes
from bench.common import MiniStack, start_ministack
from collector.registry import communes
from devstack import services as stack


def _cpu(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return float(t.user + t.system)


def _connected(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            return "commune_collector_mqtt_connected 1.0" in r.read().decode()
    except OSError:
        return False


def run_once(ms: MiniStack, inventory: dict[str, dict[str, str]], msgs: list[tuple[str, bytes]], points: int,
             n: int) -> dict[str, Any]:
    db = f"scale{n}"
    ms.query(f'CREATE DATABASE "{db}"')
    members: list[stack.Service] = []
    for i in range(n):
        d = ms.root / f"collector-{n}-{i}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "fleet.yaml").write_text(yaml.safe_dump({"agents": inventory}))
        port = stack.free_port()
        cfg = {"inventory": "fleet.yaml", "metrics_listen": f"127.0.0.1:{port}",
               "mqtt": {"port": ms.mqtt_port, "client_id": f"bench-{n}-{i}", "shared_group": f"bench{n}"},
               "influx": {"url": ms.influx_url, "database": db}}
        (d / "collector.yaml").write_text(yaml.safe_dump(cfg))
        svc = stack.python_service(f"collector-{n}-{i}", d, ["collector.cli", "run", "-c", str(d / "collector.yaml"),
                                                              "--state-dir", str(d)], functools.partial(_connected, port))
        svc.start()
        members.append(svc)
    time.sleep(1.0)  # the subscriptions follow the connection (a shared group drops what nobody subscribed)
    found = {"mosquitto": ms.services[0].pid(), "influxd": ms.services[1].pid(),
             **{f"collector-{i}": s.pid() for i, s in enumerate(members)}}
    pids = {k: p for k, p in found.items() if p}
    cpu0 = {k: _cpu(p) for k, p in pids.items()}
    total = len(msgs) * points
    pub = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-publisher-{n}")
    pub.max_inflight_messages_set(1000)
    pub.max_queued_messages_set(0)
    pub.connect("127.0.0.1", ms.mqtt_port)
    pub.loop_start()
    written0 = influx_writes(ms.influx_url)[1]
    start = time.perf_counter()
    infos = [pub.publish(t, p, qos=1) for t, p in msgs]
    for info in infos:
        info.wait_for_publish(300)
    # InfluxDB's own write counter, then one count: polling a count query would scan every point written so far
    while influx_writes(ms.influx_url)[1] - written0 < total or ms.count("synthetic", db=db) < total:
        time.sleep(0.1)
        if time.perf_counter() - start > 900:
            raise SystemExit(f"timed out with {n} collector(s)")
    elapsed = time.perf_counter() - start
    pub.loop_stop()
    pub.disconnect()
    cpu = {k: (_cpu(pids[k]) - c0) / elapsed * 100 for k, c0 in cpu0.items()}  # % of one core
    for s in members:
        s.stop()
    return {"collectors": n, "points": total, "seconds": elapsed, "points_per_s": total / elapsed,
            "cpu_percent": cpu, "cpu_total_percent": sum(cpu.values())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=50)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--points", type=int, default=500)
    ap.add_argument("--collectors", default="1,2")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    codes = list(communes())
    agents = [f"bench-{i:03d}" for i in range(args.agents)]
    inventory = {a: {"commune": codes[i % len(codes)], "site": "main"} for i, a in enumerate(agents)}
    root = Path(tempfile.mkdtemp(prefix="cm-bench-scale-"))
    ms = start_ministack(root, inventory, collector=False)
    try:
        t0 = time.time_ns() - 3600 * 10**9
        msgs = build(agents, args.batches, args.points, t0)
        ref, _ = direct_ingest(ms.influx_url, "ref", direct_lines(inventory, msgs))
        runs = [run_once(ms, inventory, msgs, args.points, int(n)) for n in args.collectors.split(",")]
    finally:
        ms.stop()
    cores = psutil.cpu_count() or 0
    print(f"{len(msgs)} batches x {args.points} points from {args.agents} agents; {cores} cores")
    print(f"InfluxDB direct ingest (1 client, 5000-point batches): {ref:,.0f} points/s")
    print("| collectors | points/s | x direct | x 1 collector | CPU % of a core: mosquitto / influxd / collectors "
          "| total CPU |")
    print("|---|---|---|---|---|---|")
    base = runs[0]["points_per_s"]
    for r in runs:
        c = r["cpu_percent"]
        cols = " + ".join(f"{v:.0f}" for k, v in sorted(c.items()) if k.startswith("collector"))
        print(f"| {r['collectors']} | {r['points_per_s']:,.0f} | {r['points_per_s'] / ref:.2f} | "
              f"{r['points_per_s'] / base:.2f} | {c.get('mosquitto', 0):.0f} / {c.get('influxd', 0):.0f} / {cols} "
              f"| {r['cpu_total_percent']:.0f} % of {cores * 100} % |")
    if args.out:
        Path(args.out).write_text(json.dumps({"direct_points_per_s": ref, "cores": cores, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
