"""Collector memory and CPU under a simulated province: every commune of Phú Thọ (148) with its sites (99
communes have two), a gateway agent and ``--pcs`` office PCs per site, each sending the schema-valid points
of the default commune-PC probe set at the default intervals (agent/defaults/agent-commune-site.yaml),
time-compressed by ``--speed`` (agent timestamps advance at the simulated pace). Alert rules run (the
collector posts to a local stand-in Alertmanager). One publisher speaks for every agent (the bench broker
has no ACL); identity still comes from the topic and the inventory, as in production.

If a province simulator exists in the tree it is the better load; this one needs nothing but the schema.

Publishing starts only once the collector is subscribed (a status message of the first agent has reached
InfluxDB): a new collector session gets nothing published before its first subscription, and the collector
sets up its database first, so every agent's first batch was lost to the bench, not to the collector. The
publisher keeps at most 100 QoS 1 messages in flight, the broker's ``max_inflight_messages`` (devstack).

    python -m bench.province_load [--pcs 10] [--speed 5] [--minutes 10]
"""

from __future__ import annotations

import argparse
import http.server
import random
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from agent import wire
from bench.common import MiniStack, sample, start_ministack
from bench.results import Row, record
from collector.registry import communes

# (measurement, interval s, tag sets per round): the commune-PC probe set at its default intervals
PC_PROFILE: list[tuple[str, int, list[dict[str, str]]]] = [
    ("host", 30, [{}]),
    ("host_disk", 30, [{"path": "C:\\"}]),
    ("host_net", 30, [{"interface": "Ethernet"}]),
    ("ping", 30, [{"target": t, "name": n, "role": r} for t, n, r in (
        ("203.162.4.191", "vnpt-dns", "isp_dns"), ("1.1.1.1", "cloudflare", "public"), ("8.8.8.8", "google", "public"),
        ("10.25.0.1", "ttdl-phutho", "datacentre"), ("192.168.1.1", "gateway", "gateway"))]),
    ("dns", 60, [{"resolver": a, "resolver_name": n, "role": r, "query": q}
                 for a, n, r in (("203.162.4.191", "VNPT", "isp"), ("203.113.131.1", "Viettel", "isp"),
                                 ("1.1.1.1", "Cloudflare", "public"))
                 for q in ("dichvucong.gov.vn", "dichvucong.phutho.gov.vn")]),
    ("tcp", 60, [{"target": "mail.phutho.gov.vn:993", "name": "mail-imaps", "role": "datacentre"},
                 {"target": "10.25.0.10:443", "name": "ttdl-https", "role": "datacentre"}]),
    ("http", 60, [{"service": s, "label": s, "url": f"https://{s}.phutho.gov.vn/"}
                  for s in ("dvc-quoc-gia", "dvc-phutho", "tthc-phutho", "qlvb-phutho", "email-phutho", "hop-truc-tuyen")]),
    ("token", 300, [{"module": "vnpt-ca", "token": "chuky-so", "serial": "0001", "reader": "usb"}]),
    ("agent", 30, [{}]),
    ("agent_probe", 30, [{"probe": p} for p in ("host", "ping")]),
    ("agent_probe", 60, [{"probe": p} for p in ("dns", "tcp", "http")]),
]
BATCH_EVERY = 10  # simulated seconds between an agent's batches


def _value(ftype: wire.FieldType, rng: random.Random) -> wire.FieldValue:
    if ftype is wire.FieldType.FLOAT:
        return round(rng.uniform(0, 100), 3)
    if ftype is wire.FieldType.INT:
        return rng.randint(0, 1)
    if ftype is wire.FieldType.BOOL:
        return rng.random() < 0.5
    return "ok"


def fleet(pcs: int) -> dict[str, dict[str, str]]:
    """Agent id -> inventory entry: per commune one or two sites, a gateway and ``pcs`` PCs per site."""
    inv: dict[str, dict[str, str]] = {}
    for i, code in enumerate(sorted(communes())):
        for site in ("tru-so-chinh", "diem-2")[: 2 if i % 3 else 1]:  # ~2/3 of communes have a second site
            inv[f"gw-{code}-{site}"] = {"commune": code, "site": site, "role": "gateway"}
            for n in range(pcs):
                inv[f"pc-{code}-{site}-{n:02d}"] = {"commune": code, "site": site}
    return inv


class _AlertmanagerStandIn(http.server.BaseHTTPRequestHandler):
    def _ok(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"[]")

    do_GET = do_POST = _ok

    def log_message(self, *a: object) -> None:
        pass


def collector_counters(ms: MiniStack, names: tuple[str, ...]) -> dict[str, float]:
    """The collector's counters from its newest own stats line (measurement ``collector``, every 10 s)."""
    series = ms.query("SELECT " + ", ".join(f'last("{n}") AS "{n}"' for n in names) + ' FROM "collector"')
    if not series:
        return {}
    cols: list[str] = series[0]["columns"]  # type: ignore[assignment]
    row: list[float | None] = series[0]["values"][0]  # type: ignore[index]
    return {c: float(v or 0) for c, v in zip(cols, row, strict=True) if c != "time"}


def broker_dropped(port: int, wait: float = 12.0) -> int | None:
    """``$SYS/broker/publish/messages/dropped`` (Mosquitto publishes $SYS every 10 s): messages the broker threw
    away (a subscriber's queue full ...); None if it did not say within ``wait`` seconds."""
    got: list[int] = []
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-province-sys")
    c.on_message = lambda _c, _u, m: got.append(int(m.payload))
    c.connect("127.0.0.1", port)
    c.subscribe("$SYS/broker/publish/messages/dropped")
    c.loop_start()
    end = time.monotonic() + wait
    while not got and time.monotonic() < end:
        time.sleep(0.2)
    c.loop_stop()
    c.disconnect()
    return got[-1] if got else None


def wait_subscribed(pub: paho.Client, ms: MiniStack, agent: str, timeout: float = 120.0) -> None:
    """Send ``agent``'s online status until the collector has stored one (it is subscribed then)."""
    status = wire.encode(wire.Status(v=wire.SCHEMA_VERSION, state="online", time=time.time_ns()))
    end = time.monotonic() + timeout
    while not ms.count("agent_status", "online"):
        if time.monotonic() > end:
            raise SystemExit("the collector did not subscribe in time")
        pub.publish(wire.topic(agent, "status"), status, qos=1)
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pcs", type=int, default=10, help="office PCs per site")
    ap.add_argument("--speed", type=float, default=5.0, help="simulated seconds per real second")
    ap.add_argument("--minutes", type=float, default=10.0, help="simulated minutes")
    args = ap.parse_args(argv)
    schema = wire.measurement_schema()
    inventory = fleet(args.pcs)
    agents = sorted(inventory)
    rng = random.Random(7)
    am = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _AlertmanagerStandIn)
    threading.Thread(target=am.serve_forever, daemon=True).start()
    root = Path(tempfile.mkdtemp(prefix="cm-bench-province-"))
    ms = start_ministack(root, inventory, collector_extra={
        "alerts": {"enabled": True, "alertmanager_urls": [f"http://127.0.0.1:{am.server_address[1]}"]}})
    pid = ms.services[-1].pid()
    assert pid is not None
    pub = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-province")
    pub.max_inflight_messages_set(100)  # the broker's max_inflight_messages (devstack): see the module docstring
    pub.max_queued_messages_set(0)
    pub.connect("127.0.0.1", ms.mqtt_port)
    pub.loop_start()
    wait_subscribed(pub, ms, agents[0])
    seconds = args.minutes * 60 / args.speed
    result: dict[str, object] = {}
    sampler = threading.Thread(target=lambda: result.update(fp=sample(pid, seconds, every=1.0, warmup=5.0)))
    sampler.start()
    sim0 = time.time_ns() - int(args.minutes * 60 * 1e9)  # agent times: the simulated period ends now
    sent_points = sent_batches = 0
    seq = dict.fromkeys(agents, 0)
    start = time.perf_counter()
    offsets = {a: rng.randrange(BATCH_EVERY) for a in agents}  # agents are not in step
    try:
        for tick in range(int(args.minutes * 60)):  # one simulated second at a time
            due = [a for a in agents if (tick - offsets[a]) % BATCH_EVERY == 0]
            for a in due:
                t = sim0 + tick * 10**9
                pts = [wire.Point(m=m, t=t, tg=tags, f={k: _value(f.type, rng) for k, f in
                                                        schema.measurements[m].fields.items()})
                       for m, every, variants in PC_PROFILE
                       if ((tick - offsets[a]) // BATCH_EVERY) % (every // BATCH_EVERY) == 0
                       for tags in variants]
                seq[a] += 1
                pub.publish(wire.topic(a, "metrics"), wire.encode(wire.Batch(v=1, agent=a, seq=seq[a], sent=t,
                                                                             points=pts)), qos=1)
                sent_points += len(pts)
                sent_batches += 1
            lag = start + (tick + 1) / args.speed - time.perf_counter()
            if lag > 0:
                time.sleep(lag)
        published = time.perf_counter() - start
        sampler.join()
        drained = time.perf_counter()
        total = sent_points
        stored = 0
        while time.perf_counter() - drained < 300:
            stored = sum(ms.count(m, next(iter(schema.measurements[m].fields))) for m in {m for m, _, _ in PC_PROFILE})
            if stored >= total:
                break
            time.sleep(2)
        behind = time.perf_counter() - drained
        time.sleep(11)  # one more stats line of the collector (every 10 s) after the drain
        counters = collector_counters(ms, ("messages_received", "acks_failed", "mqtt_connects", "messages_stale"))
        dropped = broker_dropped(ms.mqtt_port)
        fp = result["fp"]
        rate = total / (args.minutes * 60)
        print(f"{len(agents)} agents ({sum(1 for a in agents if a.startswith('gw-'))} gateways), {sent_batches} "
              f"batches, {total} points over {args.minutes:g} simulated min at {args.speed:g}x "
              f"({rate * args.speed:,.0f} points/s real, {rate:,.0f}/s in province time); published in {published:.0f}s;"
              f" stored {stored} ({behind:.1f}s after the last publish); collector: {counters}; broker dropped: {dropped}")
        extra = [] if dropped is None else [Row("messages the broker dropped ($SYS)", dropped, "", target="value <= 0")]
        record("province", [*extra,
            Row(f"collector RSS, median ({len(agents)} agents, {args.speed:g}x time)", fp.rss_mb_median, "MiB"),  # type: ignore[attr-defined]
            Row("collector RSS, max", fp.rss_mb_max, "MiB"),  # type: ignore[attr-defined]
            Row("collector CPU at that load", fp.cpu_percent, "% of a core"),  # type: ignore[attr-defined]
            Row("collector CPU per real-time province", fp.cpu_percent / args.speed, "% of a core"),  # type: ignore[attr-defined]
            Row("points stored / sent", stored / total, "", target="value >= 1"),
            Row("catch-up after the last publish", behind, "s"),
            Row("messages delivered to the collector / batches sent", counters.get("messages_received", 0) / sent_batches,
                ""),
            Row("acks failed (timed out or no session)", counters.get("acks_failed", 0), "", target="value <= 0"),
            Row("collector MQTT connections (1: no reconnect)", counters.get("mqtt_connects", 0), "",
                target="value <= 1"),
        ], {"agents": len(agents), "pcs_per_site": args.pcs, "speed": args.speed, "minutes": args.minutes,
            "points": total, "batches": sent_batches, "points_per_s_province_time": rate})
    finally:
        pub.loop_stop()
        ms.stop()
        am.shutdown()


if __name__ == "__main__":
    main()
