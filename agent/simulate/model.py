"""What one virtual agent measures at one instant: the points of the real probes (host, ping, http, token,
token_cert, snmp_device, agent), with the scenario's faults applied. Pure and deterministic: the same fleet,
seed, agent and instant always give the same points, so a live run and a backfill agree.

Distributions (per site, drawn once in ``fleet``): RTT to the data centre log-normal around ~11 ms (VNPT/
Viettel fibre in the province), +30 % in office hours; each ping lost with the site's loss rate (a tenth of
sites are unstable: 2-8 %). Portal latency: DNS 2-30 ms, connect ~RTT, TLS ~2 RTT, server time log-normal
per portal (the national portal slowest). Office PCs run Monday-Friday within office hours (each PC switched
on and off at its own minute), some on Saturday mornings; gateways never sleep.
"""

from __future__ import annotations

import itertools
import random
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib import resources
from typing import Any

import yaml

from agent import wire
from agent.probes.base import clean_fields, result_fields
from agent.simulate.fleet import SimAgent, Site
from agent.simulate.scenario import (
    CertificateExpiring,
    ClockOff,
    IspOutage,
    PortalOutage,
    RouterReboot,
    Scenario,
    SiteLinkDown,
    TokenRemoved,
    Window,
)
from agent.wire import Point

VN = timezone(timedelta(hours=7))  # Asia/Ho_Chi_Minh has no daylight saving time
NS = 1_000_000_000
TOKEN_MODULES = ("vnpt-ca", "viettel-ca", "bkav-ca", "fpt-ca")


@dataclass(frozen=True)
class Portal:
    name: str
    label: str
    url: str
    server_ms: float


def portals() -> list[Portal]:
    text = resources.files("agent").joinpath("defaults", "services-phutho.yaml").read_text(encoding="utf-8")
    out = []
    for i, entry in enumerate(yaml.safe_load(text) or []):
        out.append(Portal(str(entry["name"]), str(entry.get("label", entry["name"])), str(entry["url"]),
                          server_ms=420.0 if i == 0 else 120.0 + 40 * i))
    return out


def _matches(f: Any, agent: SimAgent) -> bool:
    site = agent.site
    if isinstance(f, IspOutage):
        return site.isp == f.isp
    if isinstance(f, PortalOutage):
        return True
    if getattr(f, "commune", None) is not None and f.commune != site.commune:
        return False
    if getattr(f, "site", "") and f.site != site.name:
        return False
    return not (getattr(f, "agent", "") and f.agent != agent.agent_id)


@dataclass(frozen=True)
class State:
    """The faults acting on one agent at one instant."""

    link_down: bool = False
    router_down: bool = False
    token_removed: bool = False
    portals_down: tuple[tuple[str, int], ...] = ()
    cert_days_left: float | None = None
    clock_offset_s: float = 0.0
    router_boot_ns: int | None = None


class AgentModel:
    """One agent's faults (those of the scenario that apply to it) and its measurements."""

    def __init__(self, agent: SimAgent, scenario: Scenario, windows: list[Window], portal_list: list[Portal]) -> None:
        self.agent = agent
        self.sc = scenario
        self.windows = [w for w in windows if _matches(w.fault, agent)]
        self.portals = portal_list if agent.role == "gateway" else portal_list[:2]
        self._seed = f"{scenario.seed}:{agent.agent_id}"

    # -- faults and power --------------------------------------------------------------------------
    def state(self, t: int) -> State:
        link = router = token = False
        portals_down: list[tuple[str, int]] = []
        days: float | None = None
        offset = 0.0
        boot: int | None = None
        for w in self.windows:
            f = w.fault
            if isinstance(f, RouterReboot) and w.end_ns <= t:
                boot = max(boot or 0, w.end_ns)
            if not w.active(t):
                continue
            if isinstance(f, SiteLinkDown | IspOutage):
                link = True
            elif isinstance(f, RouterReboot):
                router = True
            elif isinstance(f, PortalOutage):
                portals_down.append((f.service, f.status_code))
            elif isinstance(f, TokenRemoved):
                token = True
            elif isinstance(f, CertificateExpiring):
                days = f.days_left - (t - w.start_ns) / (86400 * NS)
            elif isinstance(f, ClockOff):
                offset = f.offset_s
        return State(link, router, token, tuple(portals_down), days, offset, boot)

    def reachable(self, t: int) -> bool:
        """Can the agent reach the provincial broker at ``t`` (its site's link and router are up)?"""
        s = self.state(t)
        return not (s.link_down or s.router_down)

    def powered(self, t: int) -> bool:
        if self.agent.role == "gateway":
            return True
        local = datetime.fromtimestamp(t / NS, VN)
        day = local.date().toordinal()
        rng = random.Random(f"{self._seed}:{day}")
        on = self.sc.office_start_min + rng.randint(-20, 25)
        off = self.sc.office_end_min + rng.randint(-15, 45)
        minute = local.hour * 60 + local.minute
        if local.weekday() < 5:
            return on <= minute < off
        if local.weekday() == 5 and self.agent.saturday:
            return on <= minute < 11 * 60 + 30
        return False

    def office_hours(self, t: int) -> bool:
        local = datetime.fromtimestamp(t / NS, VN)
        minute = local.hour * 60 + local.minute
        return local.weekday() < 5 and self.sc.office_start_min <= minute < self.sc.office_end_min

    # -- measurements ------------------------------------------------------------------------------
    def points(self, t: int) -> list[Point]:
        """Everything the agent reports for the round at true time ``t`` (ns), stamped with its own clock."""
        st = self.state(t)
        rng = random.Random(f"{self._seed}:{t}")
        stamp = t + round(st.clock_offset_s * NS)
        busy = self.office_hours(t)
        site = self.agent.site
        out = [self._host(rng, t, stamp, busy)]
        out += self._pings(rng, stamp, st, busy, site)
        out += self._http(rng, stamp, st, site)
        if self.agent.role == "gateway":
            out.append(self._router(rng, t, stamp, st))
        elif self.agent.has_token:
            out += self._token(stamp, st)
        counts: dict[str, int] = {}
        for p in out:
            probe = {"snmp_device": "snmp", "token_cert": "token"}.get(p.m, p.m)
            counts[probe] = counts.get(probe, 0) + 1
        for probe, n in counts.items():  # one per probe round, as the runner sends (status reads "last seen" here)
            out.append(Point(m="agent_probe", t=stamp, tg={"probe": probe}, f=clean_fields({
                "duration_ms": round(rng.uniform(5, 900), 1), "points": n, **result_fields("ok")})))
        out.append(Point(m="agent", t=stamp, f=clean_fields({
            "queue_depth": 0, "queue_bytes": 0, "queue_dropped_total": 0, "connected": 0 if st.link_down else 1,
            "clock_offset_ms": -st.clock_offset_s * 1000.0 + rng.uniform(-3, 3),
            "rss_bytes": 30_000_000 + rng.randint(0, 3_000_000), "cpu_seconds": (t % (86400 * NS)) / NS * 0.001})))
        return out

    def _host(self, rng: random.Random, t: int, stamp: int, busy: bool) -> Point:
        a = self.agent
        cpu = rng.uniform(15, 60) if busy and a.role == "pc" else rng.uniform(1, 8)
        used_share = rng.uniform(0.45, 0.8) if busy else rng.uniform(0.25, 0.4)
        used = int(a.mem_total * used_share)
        if a.role == "gateway":
            boot = (t // (30 * 86400 * NS)) * 30 * 86400 * NS
        else:
            local = datetime.fromtimestamp(t / NS, VN)
            boot = round(local.replace(hour=7, minute=20, second=0, microsecond=0).timestamp() * NS)
            boot = min(boot, t - 60 * NS)
        return Point(m="host", t=stamp, f={
            "cpu_percent": round(cpu, 1), "load1": round(cpu / 25, 2), "load5": round(cpu / 30, 2),
            "load15": round(cpu / 35, 2), "mem_total_bytes": a.mem_total, "mem_available_bytes": a.mem_total - used,
            "mem_used_bytes": used, "mem_percent": round(100 * used_share, 1), "swap_percent": round(rng.uniform(0, 5), 1),
            "uptime_s": (t - boot) / NS, "boot_time_s": boot // NS, "procs": rng.randint(180, 320)})

    def _pings(self, rng: random.Random, stamp: int, st: State, busy: bool, site: Site) -> list[Point]:
        load = 1.3 if busy else 1.0
        targets = [("192.168.1.1", "Router", "gateway", 0.6, False)]
        targets.append(("dichvucong.phutho.gov.vn", "Cổng DVC tỉnh", "datacentre", site.base_rtt_ms * load, True))
        if self.agent.role == "gateway":
            dns = {"vnpt": "203.162.4.191", "viettel": "203.113.131.1", "fpt": "210.245.24.20"}[site.isp]
            targets.append((dns, f"DNS {site.isp.upper()}", "isp_dns", site.base_rtt_ms * 0.5 * load, True))
            targets.append(("8.8.8.8", "Google DNS", "public", site.base_rtt_ms * load + 25.0, True))
        out = []
        for host, name, role, base, beyond in targets:
            down = st.router_down or (beyond and st.link_down)
            loss = 1.0 if down else site.loss_percent / 100.0
            rtts = sorted(base * rng.lognormvariate(0, 0.25) for _ in range(5) if rng.random() >= loss)
            fields: dict[str, Any] = {"sent": 5, "received": len(rtts), "loss_percent": 100.0 * (5 - len(rtts)) / 5}
            if rtts:
                fields.update(rtt_min_ms=round(rtts[0], 3), rtt_median_ms=round(rtts[len(rtts) // 2], 3),
                              rtt_avg_ms=round(sum(rtts) / len(rtts), 3), rtt_max_ms=round(rtts[-1], 3),
                              jitter_ms=round(sum(abs(x - y) for x, y in itertools.pairwise(rtts))
                                              / max(1, len(rtts) - 1), 3))
                fields.update(result_fields("ok"))
            else:
                fields.update(result_fields("unreachable", "no reply to 5 echo requests"))
            out.append(Point(m="ping", t=stamp, tg={"target": host, "name": name, "role": role},
                             f=clean_fields(fields)))
        return out

    def _http(self, rng: random.Random, stamp: int, st: State, site: Site) -> list[Point]:
        out = []
        down = dict(st.portals_down)
        for p in self.portals:
            tags = {"service": p.name, "url": p.url}
            if st.link_down or st.router_down:
                f = {"dns_ms": 5000.0, **result_fields("dns_error" if st.router_down else "connect_timeout",
                                                        "no answer before the timeout")}
                out.append(Point(m="http", t=stamp, tg=tags, f=clean_fields(f)))
                continue
            rtt = site.base_rtt_ms * rng.lognormvariate(0, 0.2)
            dns, connect, tls = rng.uniform(2, 30), rtt, 2 * rtt * rng.uniform(1, 1.4)
            processing = p.server_ms * rng.lognormvariate(0, 0.35)
            transfer = rng.uniform(5, 80)
            total = dns + connect + tls + processing + transfer
            status = down.get(p.name, 200)
            result = "ok" if status == 200 else "http_status"
            f = {"status_code": status, "dns_ms": round(dns, 2), "connect_ms": round(connect, 2),
                 "tls_ms": round(tls, 2), "processing_ms": round(processing, 2), "transfer_ms": round(transfer, 2),
                 "first_byte_ms": round(dns + connect + tls + processing, 2), "total_ms": round(total, 2),
                 "body_bytes": rng.randint(20_000, 90_000) if status == 200 else 512, "redirects": 0,
                 "tls_days_left": 40.0 + (zlib.crc32(p.name.encode()) % 200), "tls_chain_valid": 1, "tls_expiring": 0,
                 "slow": 1 if total > 5000 else 0,
                 **result_fields(result, "" if status == 200 else f"HTTP {status}")}
            out.append(Point(m="http", t=stamp, tg=tags, f=clean_fields(f)))
        return out

    def _router(self, rng: random.Random, t: int, stamp: int, st: State) -> Point:
        site = self.agent.site
        tags = {"device": "router", "host": "192.168.1.1", "vendor": site.router_vendor}
        if st.router_down:
            return Point(m="snmp_device", t=stamp, tg=tags,
                         f=clean_fields({**result_fields("timeout", "no SNMP answer"), "requests": 3}))
        epoch = (t // (45 * 86400 * NS)) * 45 * 86400 * NS
        boot = max(epoch, st.router_boot_ns or 0)
        uptime = (t - boot) / NS
        link = not st.link_down
        util_in = rng.uniform(5, 55) if link else 0.0
        return Point(m="snmp_device", t=stamp, tg=tags, f=clean_fields({
            **result_fields("ok" if link else "uplink_down", "" if link else "uplink interface is down"),
            "uptime_s": uptime, "rebooted": 1 if uptime < self.sc.interval else 0,
            "sys_name": f"{site.commune}-{site.name}", "sys_descr": f"{site.router_vendor} router",
            "cpu_percent": round(rng.uniform(3, 40), 1), "mem_percent": round(rng.uniform(20, 60), 1),
            "interfaces": 5, "interfaces_up": 4 if link else 3, "uplink_found": 1, "uplink_up": 1 if link else 0,
            "uplink_in_util_percent": round(util_in, 1), "uplink_out_util_percent": round(util_in / 3, 1),
            "uplink_saturated": 1 if util_in > 90 else 0, "poll_ms": round(rng.uniform(20, 120), 1), "requests": 3}))

    def _token(self, stamp: int, st: State) -> list[Point]:
        a = self.agent
        module = TOKEN_MODULES[sum(map(ord, a.agent_id)) % len(TOKEN_MODULES)]
        if st.token_removed:
            return [Point(m="token", t=stamp, tg={"module": module},
                          f=clean_fields({"present": 0, "certificates": 0,
                                          **result_fields("no_token", "no token in any slot")}))]
        serial = f"54{zlib.crc32(a.agent_id.encode()) % 10**8:08d}"
        tags = {"module": module, "token": f"Token {a.site.commune}", "serial": serial, "reader": "USB Token"}
        not_after = a.cert_not_after_ns
        days = (not_after - stamp) / (86400 * NS) if st.cert_days_left is None else st.cert_days_left
        if st.cert_days_left is not None:
            not_after = stamp + round(days * 86400 * NS)
        expired = days < 0
        cert = {"not_before": (not_after // NS) - 3 * 365 * 86400, "not_after": not_after // NS,
                "days_left": round(days, 3), "expired": 1 if expired else 0, "can_sign": 1,
                "key_usage": "digitalSignature,nonRepudiation", "chain_valid": 1,
                **result_fields("expired" if expired else "ok", "certificate expired" if expired else "")}
        return [
            Point(m="token", t=stamp, tg=tags, f=clean_fields({"present": 1, "certificates": 1, **result_fields("ok")})),
            Point(m="token_cert", t=stamp, tg={"module": module, "token": tags["token"],
                                               "subject": f"CN=UBND {a.site.commune_name}",
                                               "issuer": f"CN={module.upper()}", "serial": serial},
                  f=clean_fields(cert)),
        ]


def batch(agent_id: str, seq: int, points: list[Point], sent: int, clock_offset_ms: float | None = None) -> bytes:
    return wire.encode(wire.Batch(v=wire.SCHEMA_VERSION, agent=agent_id, seq=seq, sent=sent, points=points,
                                  clock_offset_ms=clock_offset_ms))
