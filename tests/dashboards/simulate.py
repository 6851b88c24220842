"""A simulated province in InfluxDB line protocol: every measurement the dashboards read, with the real
measurement, tag and field names the agents and the collector write (docs/probes/*.md, collector/consume.py),
identity tags from the real fleet inventory model, and a few faults, so every panel has something to show.

Used by the dashboard query tests (a day) and by bench/dashboards.py (30 days).
"""

from __future__ import annotations

import math
import random
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from collector.config import AgentIdentity, Inventory
from collector.lineproto import LineEncoder
from collector.registry import communes

SERVICES = [("dvc-quoc-gia", "Cổng Dịch vụ công quốc gia", "https://dichvucong.gov.vn/p/home/dvc-trang-chu.html"),
            ("dvc-phutho", "Cổng Dịch vụ công tỉnh Phú Thọ", "https://dichvucong.phutho.gov.vn/"),
            ("tthc-phutho", "Hệ thống thông tin giải quyết TTHC tỉnh", "https://motcua.phutho.gov.vn/")]
PING_TARGETS = [("192.168.1.1", "gateway", "gateway"), ("203.162.4.191", "vnpt-dns", "isp_dns"),
                ("8.8.8.8", "google", "public")]
LINKS = ["VNPT", "Viettel"]
CAS = ["VNPT-CA", "Viettel-CA", "BkavCA"]
MODULE, MODULE_PATH = "vnpt-ca", "/usr/lib/vnptca/libvnptca_p11.so"


@dataclass(frozen=True)
class Fleet:
    inventory: Inventory
    broken_link: frozenset[str]  # communes whose link is down for the last hour
    broken_portal: str  # commune whose portals fail for the last hour
    pcs: int = 0  # office PCs per site next to a gateway agent; 0: one agent per site doing everything


def fleet(n_communes: int, agents_per_site: int = 1, seed: int = 7, pcs: int = 0) -> Fleet:
    """Agents in the first ``n_communes`` communes of Phú Thọ (the rest have none); every third commune has
    two sites (offices split over several locations). ``pcs`` > 0: each site has a gateway agent (the
    always-on box polling the router and the uplinks) and ``pcs`` office PCs with the PC probe set (ping,
    dns, http, tcp, host, token...), instead of ``agents_per_site`` agents that each do everything."""
    rng = random.Random(seed)
    chosen = sorted(communes().values(), key=lambda c: c.code)[:n_communes]
    agents = {}
    for i, c in enumerate(chosen):
        for site in (["main", "site-2"] if i % 3 == 0 else ["main"]):
            if pcs:
                gid = f"gw-{c.code}-{site}"
                agents[gid] = AgentIdentity(gid, c, site, "Máy giám sát", role="gateway")
            for k in range(pcs or agents_per_site):
                aid = f"pc-{c.code}-{site}-{k + 1}"
                agents[aid] = AgentIdentity(aid, c, site, f"Máy {k + 1}")
    codes = [c.code for c in chosen]
    broken = frozenset(rng.sample(codes, max(1, len(codes) // 10)))
    return Fleet(Inventory("simulated", agents), broken, codes[-1], pcs)


Emit = Callable[[str, dict[str, str], dict[str, object], int], Iterator[str]]


def encoder(rollup: dict[str, dict[str, str]] | None = None, align_s: int = 0) -> Emit:
    """Line protocol of a point; with ``rollup`` (measurement -> field -> aggregate, as in
    collector.retention_rollups.ROLLUPS) only the rolled-up measurements and fields, means as floats, at the
    start of their ``align_s`` interval: the row a rollup over ``align_s`` holds for an interval with one round
    in it."""
    enc = LineEncoder()
    align = align_s * 1_000_000_000

    def emit(measurement: str, tags: dict[str, str], fields: dict[str, object], ns: int) -> Iterator[str]:
        if rollup is None:
            yield enc.line(measurement, tags, fields, ns)
            return
        keep = rollup.get(measurement)
        if keep is None:
            return
        out = {k: float(v) if keep[k] == "mean" else v  # type: ignore[arg-type]
               for k, v in fields.items() if k in keep}
        if out:
            yield enc.line(measurement, tags, out, ns - ns % align if align else ns)

    return emit


def _bad(ident: AgentIdentity, f: Fleet, t: float, end: float) -> bool:
    return ident.commune.code in f.broken_link and t > end - 3600


def lines(f: Fleet, start: float, end: float, step: float, seed: int = 11,
          rollup: dict[str, dict[str, str]] | None = None, align_s: int = 0) -> Iterator[str]:
    """Points of every agent every ``step`` seconds in [start, end], plus the collector's own (``rollup``,
    ``align_s``: see ``encoder``)."""
    rng = random.Random(seed)
    emit = encoder(rollup, align_s)
    agents = sorted(f.inventory.agents.values(), key=lambda a: a.agent)
    first_of_site: dict[tuple[str, str], str] = {}
    for a in agents:
        first_of_site.setdefault((a.commune.code, a.site), a.agent)
    for ident in agents:
        yield from emit("agent_status", ident.tags(), {"state": "online", "online": 1,
                       "version": "0.9.0" if ident.agent.endswith("2") else "1.0.0"}, int(start * 1e9))
    totals = {"received": 0, "points_accepted": 0, "points_written": 0, "rejected_total": 0,
              "rejected_malformed": 0, "write_errors": 0}
    t = start
    n_step = 0
    while t <= end:
        ns = int(t * 1e9)
        day = math.sin((t % 86400) / 86400 * 2 * math.pi)
        for i, ident in enumerate(agents):
            tags = ident.tags()
            down = _bad(ident, f, t, end)
            portal_down = ident.commune.code == f.broken_portal and t > end - 3600
            gw = ident.role == "gateway" or not f.pcs  # the site's links and router
            pc = ident.role != "gateway"  # portals, tokens, disks: what office staff use
            for host, name, role in PING_TARGETS:
                loss = 100.0 if down else max(0.0, rng.gauss(2 + 3 * day, 2))
                fields: dict[str, object] = {"sent": 10, "received": round(10 * (100 - loss) / 100),
                                             "loss_percent": loss, "result": "unreachable" if down else "ok",
                                             "ok": 0 if down else 1, "reason": "no reply" if down else ""}
                if not down:
                    rtt = abs(rng.gauss(5 if role == "gateway" else 35, 5))
                    fields.update(rtt_min_ms=rtt * 0.8, rtt_median_ms=rtt, rtt_avg_ms=rtt, rtt_max_ms=rtt * 1.5,
                                  jitter_ms=abs(rng.gauss(2, 1)))
                yield from emit("ping", {**tags, "target": host, "name": name, "role": role}, fields, ns)
            if pc:
                for service, _label, url in SERVICES:
                    fail = down or portal_down or rng.random() < 0.01
                    phases = {"dns_ms": abs(rng.gauss(20, 5)), "connect_ms": abs(rng.gauss(30, 10)),
                              "tls_ms": abs(rng.gauss(60, 15)), "processing_ms": abs(rng.gauss(400, 150)),
                              "transfer_ms": abs(rng.gauss(100, 40))}
                    hf: dict[str, object] = {"ok": 0 if fail else 1, "result": "connect_timeout" if fail else "ok",
                                             "reason": "no answer in 10s" if fail else ""}
                    if not fail:
                        hf.update(phases, status_code=200, first_byte_ms=sum(list(phases.values())[:4]),
                                  total_ms=sum(phases.values()), body_bytes=48213, redirects=0, tls_days_left=80.0,
                                  tls_chain_valid=1, tls_expiring=0)
                    yield from emit("http", {**tags, "service": service, "url": url}, hf, ns)
            if pc and f.pcs:
                yield from _dns_tcp(emit, tags, ns, down or portal_down, rng)
            if gw:
                link = LINKS[i % 2]
                uf: dict[str, object] = {"links_configured": 2, "ok": 0 if down else 1,
                                         "result": "echo_error" if down else "ok", "reason": ""}
                if not down:
                    uf.update(public_ip=f"113.160.{i % 250}.{n_step % 250}", echo_ms=abs(rng.gauss(80 + 40 * (i % 2), 15)))
                yield from emit("uplink", {**tags, "link": link, "interface": "eth0", "gateway": "192.168.1.1"}, uf, ns)
            yield from emit("host", tags, {"cpu_percent": abs(rng.gauss(20 + 15 * day, 8)), "mem_percent": 55.0 + 10 * day,
                                          "uptime_s": t - start + 3600.0, "boot_time_s": int(start - 3600), "procs": 180}, ns)
            if pc:
                yield from emit("host_disk", {**tags, "path": "C:\\" if i % 2 else "/"},
                               {"percent": 60.0 + (i % 40), "total_bytes": 256_000_000_000, "used_bytes": 150_000_000_000,
                                "free_bytes": 106_000_000_000}, ns)
            yield from emit("agent", tags, {"queue_depth": 50 if down else rng.randint(0, 2), "queue_bytes": 4096,
                                           "queue_dropped_total": i % 3, "connected": 0 if down else 1,
                                           "clock_offset_ms": rng.gauss(0, 40) + (40_000 if i == 1 else 0)}, ns)
            yield from emit("agent_clock", tags, {"offset_ms": rng.gauss(0, 40) + (40_000 if i == 1 else 0),
                                                 "skewed": 1 if i == 1 else 0}, ns)
            if pc:
                no_token = i % 7 == 3
                yield from emit("token_module", {**tags, "module": MODULE, "path": MODULE_PATH},
                               {"loaded": 0 if i % 11 == 5 else 1, "slots": 1, "tokens": 0 if no_token else 1,
                                "ok": 0 if i % 11 == 5 else 1, "result": "module_error" if i % 11 == 5 else "ok",
                                "reason": "C_Initialize failed" if i % 11 == 5 else ""}, ns)
                token_tags = {**tags, "module": MODULE} if no_token else {
                    **tags, "module": MODULE, "token": f"tok-{i}", "serial": f"54{i:06d}", "reader": "VNPT-CA Token 0"}
                yield from emit("token", token_tags, {"present": 0 if no_token else 1, "certificates": 0 if no_token else 1,
                                                     "ok": 0 if no_token else 1,
                                                     "result": "no_token" if no_token else "ok", "reason": ""}, ns)
                if not no_token:
                    days_left = [5.0, 20.0, 200.0, 400.0][i % 4] - (end - t) / 86400
                    yield from emit("token_cert", {**tags, "module": MODULE, "token": f"tok-{i}",
                                                  "subject": f"Cán bộ {i}", "issuer": CAS[i % 3], "serial": f"{i:08x}"},
                                   {"not_before": int(start - 86400 * 300), "not_after": int(end + days_left * 86400),
                                    "days_left": days_left, "expired": 0, "can_sign": 1,
                                    "key_usage": "digital_signature", "ok": 1, "result": "ok", "reason": ""}, ns)
            if ident.role == "gateway" if f.pcs else first_of_site[(ident.commune.code, ident.site)] == ident.agent:
                yield from _router(emit, tags, i, t, start, end, down, rng)
        n_step += 1
        for k in totals:
            totals[k] += {"received": 40, "points_accepted": 800, "points_written": 820}.get(k, 0)
        totals["rejected_total"] += n_step % 5 == 0
        totals["rejected_malformed"] += n_step % 5 == 0
        yield from emit("collector", {"collector": "collector-1"},
                       {**totals, "pending_points": rng.randint(0, 5000), "pending_batches": rng.randint(0, 5),
                        "mqtt_connected": 1, "write_latency_mean_ms": rng.uniform(5.0, 40.0),
                        "write_latency_max_ms": rng.uniform(40.0, 400.0)}, ns)
        t += step


def _dns_tcp(emit: Emit, tags: dict[str, str], ns: int, fail: bool, rng: random.Random) -> Iterator[str]:
    for resolver, resolver_name, role in (("203.162.4.191", "vnpt-dns", "isp"), ("8.8.8.8", "google", "public")):
        df: dict[str, object] = {"answers": 0 if fail else 1, "rcode": "" if fail else "noerror",
                                 "result": "timeout" if fail else "ok", "ok": 0 if fail else 1,
                                 "reason": "no answer in 3s" if fail else ""}
        if not fail:
            df.update(lookup_ms=abs(rng.gauss(25, 8)), address="113.190.232.12")
        yield from emit("dns", {**tags, "resolver": resolver, "resolver_name": resolver_name, "role": role,
                                "query": "dichvucong.gov.vn"}, df, ns)
    for service, _label, url in SERVICES:
        host = url.split("/")[2]
        tf: dict[str, object] = {"result": "timeout" if fail else "ok", "ok": 0 if fail else 1,
                                 "reason": "no SYN-ACK in 5s" if fail else ""}
        if not fail:
            tf.update(connect_ms=abs(rng.gauss(30, 10)), dns_ms=abs(rng.gauss(20, 5)))
        yield from emit("tcp", {**tags, "target": f"{host}:443", "name": service, "role": "portal"}, tf, ns)


def _router(emit: Emit, tags: dict[str, str], i: int, t: float, start: float, end: float, down: bool,
            rng: random.Random) -> Iterator[str]:
    ns = int(t * 1e9)
    dtags = {**tags, "device": "router", "host": "192.168.1.1", "vendor": "mikrotik"}
    rebooted = i % 5 == 0 and int((t - start) // 3600) % 6 == 0 and (t - start) % 3600 < 1e-6  # every 6 h
    util = abs(rng.gauss(40 + 30 * math.sin((t % 86400) / 86400 * 2 * math.pi), 10))
    yield from emit("snmp_device", dtags, {
        "ok": 1, "result": "ok", "reason": "", "uptime_s": t - start + 86400.0, "rebooted": int(rebooted),
        "sys_name": "router", "cpu_percent": abs(rng.gauss(15, 5)), "mem_percent": 40.0, "interfaces": 4,
        "interfaces_up": 2 if i % 6 == 2 else 3, "uplink_found": 1, "uplink_up": 0 if down else 1,
        "uplink_in_util_percent": 0.0 if down else min(util, 100.0), "uplink_out_util_percent": min(util / 3, 100.0),
        "uplink_saturated": int(util > 95), "poll_ms": abs(rng.gauss(120, 30)), "requests": 3}, ns)
    for k, ifname in enumerate(["ether1", "ether2", "ether3", "ether4"]):
        oper = 0 if (k == 2 and i % 6 == 2) or k == 3 or (k == 0 and down) else 1
        admin = 0 if k == 3 else 1
        speed = 100_000_000
        in_bps = util / 100 * speed if k == 0 and not down else abs(rng.gauss(1e6, 3e5)) * oper
        itags = {**tags, "device": "router", "interface": ifname, "if_index": str(k + 1)}
        if k == 0:
            itags["role"] = "uplink"
        yield from emit("snmp_interface", itags, {
            "if_descr": ifname, "if_alias": "", "if_type": 6, "admin_status": 1 if admin else 2,
            "oper_status": 1 if oper else 2, "admin_up": admin, "oper_up": oper, "speed_bps": speed,
            "in_octets": int(in_bps * (t - start) / 8), "out_octets": int(in_bps * (t - start) / 24),
            "in_bps": in_bps, "out_bps": in_bps / 3, "in_util_percent": in_bps / speed * 100,
            "out_util_percent": in_bps / speed * 33, "in_errors_per_s": abs(rng.gauss(0.1, 0.1)) if i % 4 == 1 else 0.0,
            "out_errors_per_s": 0.0, "in_discards_per_s": 0.0, "out_discards_per_s": 0.0}, ns)
    if rebooted:
        yield from emit("snmp_event", {**tags, "device": "router", "event": "reboot"},
                       {"previous_uptime_s": 86400.0, "uptime_s": 60.0}, ns)


def write_lines(url: str, db: str, lines: Iterator[str], batch: int = 5000) -> int:
    """POST line protocol to InfluxDB 1.x in batches; returns the number of points."""
    n = 0
    buf: list[str] = []

    def flush() -> None:
        req = urllib.request.Request(f"{url}/write?db={db}&precision=ns", data="\n".join(buf).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=120) as r:
            assert r.status == 204, r.status
        buf.clear()

    for line in lines:
        buf.append(line)
        n += 1
        if len(buf) >= batch:
            flush()
    if buf:
        flush()
    return n
