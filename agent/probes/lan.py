"""lan: ARP sweep of the office LAN (scapy, imported lazily): how many devices answer, which MAC addresses
are new or have vanished, and whether the gateway's MAC address changed (a replaced router, or ARP spoofing).

Sending raw ARP needs root or CAP_NET_RAW; without it (or without scapy) the probe reports ``disabled`` and
why, and sends nothing. The interface, subnet and gateway default to those of the default route. Subnets
larger than ``max_hosts`` addresses are refused (a commune office LAN is a /24).

Measurements
- ``lan_scan`` (tags ``interface``, ``subnet``): hosts_up (int, devices that answered, the agent itself
  not counted), known_hosts (int), new_hosts, vanished_hosts (int, this scan), gateway_up (0/1),
  gateway_mac (string), gateway_mac_count (int, MACs answering for the gateway's IP: more than one is
  suspicious), gateway_mac_changed (0/1), duration_ms (float), result, ok, reason.
- ``lan_event`` (tags ``interface``, ``event`` = new_host / vanished_host / gateway_mac_changed): mac, ip,
  previous_mac (strings).

The first scan sets the baseline (no new-host events). A MAC vanishes after ``vanish_after`` scans in a row
without an answer. The known MACs are kept in ``<state_dir>/lan-<interface>.json`` across restarts.

Result codes: ok; disabled (no privilege, no scapy, or no usable interface: no ``ok`` field, not a failure);
gateway_unreachable (the gateway did not answer ARP); gateway_mac_changed; error.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ClassVar, Final

import msgspec

from agent.probes.base import CheckLine, Probe, ProbeConfig, ProbeContext, result_fields
from agent.units import Duration
from agent.wire import FieldValue, Point
from agent.wire.spec import RESULT_FIELDS, MeasurementSpec, float_field, int_field, measurement, str_field

SECTION = "Thiết bị mạng"


class LanResult(StrEnum):
    OK = "ok"
    DISABLED = "disabled"
    """No raw-socket privilege, no scapy, no usable interface, or subnet too large: nothing sent."""
    GATEWAY_UNREACHABLE = "gateway_unreachable"
    GATEWAY_MAC_CHANGED = "gateway_mac_changed"
    ERROR = "error"

class LanConfig(ProbeConfig, kw_only=True):
    interval: Duration = Duration(300)
    timeout: Duration = Duration(60)
    interface: str = ""
    """Interface to sweep; empty: the one of the default route."""
    subnet: str = ""
    """Subnet to sweep (CIDR); empty: the interface's own IPv4 subnet."""
    gateway: str = ""
    """The gateway's IPv4 address; empty: the default route's gateway."""
    arp_timeout: Duration = Duration(2)
    retries: Annotated[int, msgspec.Meta(ge=0, le=5)] = 1
    max_hosts: Annotated[int, msgspec.Meta(ge=1, le=65536)] = 1024
    vanish_after: Annotated[int, msgspec.Meta(ge=1, le=100)] = 3
    """Scans in a row without an answer before a MAC counts as vanished."""

    def __post_init__(self) -> None:
        if self.subnet:
            try:
                net = ipaddress.IPv4Network(self.subnet, strict=False)
            except ValueError as exc:
                raise ValueError(f"subnet: {exc}") from None
            if net.num_addresses > self.max_hosts:
                raise ValueError(f"subnet {net} has {net.num_addresses} addresses, more than max_hosts ({self.max_hosts})")
        if self.gateway:
            try:
                ipaddress.IPv4Address(self.gateway)
            except ValueError as exc:
                raise ValueError(f"gateway: {exc}") from None


class _Disabled(Exception):
    pass


def _check_raw_socket() -> None:
    """Raise _Disabled when this process may not send raw frames (no root / CAP_NET_RAW)."""
    family = getattr(socket, "AF_PACKET", None)
    if family is None:
        return  # not Linux: scapy uses its own capture driver; errors show at send time
    try:
        s = socket.socket(family, socket.SOCK_RAW)
    except PermissionError:
        raise _Disabled("ARP sweep needs root or CAP_NET_RAW (raw sockets are not permitted)") from None
    s.close()


def _mask_len(mask: int) -> int:
    return bin(mask).count("1")


def _resolve(cfg: LanConfig) -> tuple[str, ipaddress.IPv4Network, str, str]:
    """(interface, subnet, gateway IP, own IP) from config and the routing table (scapy's view of it)."""
    from scapy.config import conf

    routes = conf.route
    routes.resync()  # the table scapy read at import may be stale (DHCP renewals, a new uplink)
    iface, own_ip, gw = "", "", ""
    default = routes.route("0.0.0.0")
    if default and default[2] and default[2] != "0.0.0.0":
        iface, own_ip, gw = str(default[0]), str(default[1]), str(default[2])
    if cfg.interface:
        iface = cfg.interface
    if not iface or iface == "lo":
        raise _Disabled("no interface to sweep: no default route and no interface configured")
    subnet: ipaddress.IPv4Network | None = None
    for net, mask, gateway, r_iface, addr, _metric in routes.routes:
        if str(r_iface) != iface or gateway not in ("0.0.0.0", "") or mask in (0, 0xFFFFFFFF):
            continue
        own_ip = str(addr)
        subnet = ipaddress.IPv4Network((net, _mask_len(mask)), strict=False)
        break
    if cfg.subnet:
        subnet = ipaddress.IPv4Network(cfg.subnet, strict=False)
    if subnet is None:
        raise _Disabled(f"interface {iface} has no IPv4 subnet; set subnet in the lan probe's config")
    if subnet.num_addresses > cfg.max_hosts:
        raise _Disabled(f"subnet {subnet} is larger than max_hosts ({cfg.max_hosts}); set a smaller subnet")
    return iface, subnet, cfg.gateway or gw, own_ip


def _sweep(iface: str, subnet: str, timeout: float, retries: int) -> list[tuple[str, str]]:
    """Blocking ARP sweep: [(ip, mac)] of every answer (a host may answer more than once)."""
    from scapy.layers.l2 import ARP, Ether
    from scapy.sendrecv import srp

    answered, _ = srp(Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(pdst=subnet), iface=iface, timeout=timeout,
                      retry=retries, verbose=0)
    return [(str(rcv[ARP].psrc), str(rcv[ARP].hwsrc).lower()) for _snd, rcv in answered]


MEASUREMENTS: Final = (
    measurement("lan_scan", "lan", {"interface": "swept interface", "subnet": "swept subnet (CIDR)"}, {
        "hosts_up": int_field("count", "devices that answered (the agent itself not counted)"),
        "known_hosts": int_field("count", "MACs currently known (answered within the last vanish_after sweeps)"),
        "new_hosts": int_field("count", "MACs seen for the first time in this sweep"),
        "vanished_hosts": int_field("count", "MACs that vanished in this sweep"),
        "gateway_up": int_field("1/0", "the gateway answered"),
        "gateway_mac": str_field("the gateway's MAC address", max_length=32),
        "gateway_mac_count": int_field("count", "MACs that answered for the gateway's IP (> 1 is suspicious)"),
        "gateway_mac_changed": int_field("1/0"),
        "duration_ms": float_field("ms"),
        **RESULT_FIELDS,
    }),
    measurement("lan_event", "lan", {"interface": "swept interface",
                                     "event": "new_host / vanished_host / gateway_mac_changed"}, {
        "mac": str_field("the MAC address (the gateway's new one)", max_length=32),
        "ip": str_field("its IPv4 address", max_length=64),
        "previous_mac": str_field("the gateway's previous MAC (gateway_mac_changed only)", max_length=32),
    }),
)


class LanProbe(Probe[LanConfig]):
    name: ClassVar[str] = "lan"
    results: ClassVar[type[StrEnum] | None] = LanResult
    Config: ClassVar[type[ProbeConfig]] = LanConfig
    measurements: ClassVar[tuple[MeasurementSpec, ...]] = MEASUREMENTS

    def __init__(self, config: LanConfig, ctx: ProbeContext) -> None:
        super().__init__(config, ctx)
        self._known: dict[str, dict[str, Any]] | None = None  # mac -> {"ip": str, "missed": int}
        self._gateway_mac = ""
        self._loaded_for = ""

    def _state_file(self, iface: str) -> Path:
        return Path(self.ctx.state_dir) / f"lan-{iface}.json"

    def _load(self, iface: str) -> None:
        if self._loaded_for == iface:
            return
        self._loaded_for = iface
        try:
            data = json.loads(self._state_file(iface).read_text(encoding="utf-8"))
            self._known = {str(k): {"ip": str(v["ip"]), "missed": int(v["missed"])} for k, v in data["known"].items()}
            self._gateway_mac = str(data.get("gateway_mac", ""))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass

    def _save(self, iface: str) -> None:
        path = self._state_file(iface)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"known": self._known, "gateway_mac": self._gateway_mac}), encoding="utf-8")
            tmp.replace(path)
        except OSError as exc:
            self.ctx.log.warning("lan: cannot save state to %s: %s", path, exc)

    async def collect(self) -> list[Point]:
        ts = self.ctx.clock_ns()
        started = time.perf_counter()
        tags: dict[str, str] = {}
        try:
            try:
                await asyncio.to_thread(__import__, "scapy.layers.l2")
            except ImportError:
                raise _Disabled("scapy is not installed (pip install scapy)") from None
            _check_raw_socket()
            iface, subnet, gateway, own_ip = await asyncio.to_thread(_resolve, self.config)
            tags = {"interface": iface, "subnet": str(subnet)}
            answers = await asyncio.to_thread(_sweep, iface, str(subnet), float(self.config.arp_timeout),
                                              self.config.retries)
        except _Disabled as exc:
            fields: dict[str, FieldValue | None] = {"result": LanResult.DISABLED, "reason": str(exc)}
            return [self.point("lan_scan", fields, tags or {"interface": self.config.interface or "default"}, ts)]
        except PermissionError as exc:
            fields = {"result": LanResult.DISABLED, "reason": f"ARP sweep not permitted: {exc}"}
            return [self.point("lan_scan", fields, tags or {"interface": self.config.interface or "default"}, ts)]
        except RuntimeError as exc:  # scapy without a layer-2 capture driver (Windows without Npcap)
            fields = {"result": LanResult.DISABLED, "reason": f"ARP sweep not available: {exc}"}
            return [self.point("lan_scan", fields, tags or {"interface": self.config.interface or "default"}, ts)]
        except OSError as exc:
            fields = {"duration_ms": (time.perf_counter() - started) * 1000.0,
                      **result_fields(LanResult.ERROR, f"{type(exc).__name__}: {exc}")}
            return [self.point("lan_scan", fields, tags or {"interface": self.config.interface or "default"}, ts)]
        return self._account(iface, subnet, gateway, own_ip, answers, tags, ts, started)

    def _account(
        self, iface: str, subnet: ipaddress.IPv4Network, gateway: str, own_ip: str, answers: list[tuple[str, str]],
        tags: dict[str, str], ts: int, started: float,
    ) -> list[Point]:
        self._load(iface)
        seen: dict[str, str] = {}
        gateway_macs: list[str] = []
        for ip, mac in answers:
            if ip == own_ip:
                continue
            seen.setdefault(mac, ip)
            if ip == gateway and mac not in gateway_macs:
                gateway_macs.append(mac)
        ev_tags = {"interface": iface}
        events: list[Point] = []
        baseline = self._known is None
        known: dict[str, dict[str, Any]] = self._known or {}
        new = vanished = 0
        for mac, ip in seen.items():
            if mac not in known:
                if not baseline:
                    new += 1
                    events.append(self.point("lan_event", {"mac": mac, "ip": ip}, {**ev_tags, "event": "new_host"}, ts))
                known[mac] = {"ip": ip, "missed": 0}
            else:
                known[mac] = {"ip": ip, "missed": 0}
        for mac in list(known):
            if mac in seen:
                continue
            known[mac]["missed"] += 1
            if known[mac]["missed"] >= self.config.vanish_after:
                vanished += 1
                events.append(self.point("lan_event", {"mac": mac, "ip": known[mac]["ip"]},
                                         {**ev_tags, "event": "vanished_host"}, ts))
                del known[mac]
        self._known = known

        code, reason = LanResult.OK, ""
        changed = 0
        gateway_mac = gateway_macs[0] if gateway_macs else ""
        if self._gateway_mac in gateway_macs:
            gateway_mac = self._gateway_mac
        if gateway and not gateway_macs:
            code, reason = LanResult.GATEWAY_UNREACHABLE, f"gateway {gateway} did not answer ARP on {iface}"
        elif (gateway_mac and self._gateway_mac and gateway_mac != self._gateway_mac) or len(gateway_macs) > 1:
            changed = 1
            other = next((m for m in gateway_macs if m != self._gateway_mac), gateway_mac)
            events.append(self.point("lan_event", {"mac": other, "ip": gateway, "previous_mac": self._gateway_mac or None},
                                     {**ev_tags, "event": "gateway_mac_changed"}, ts))
            code = LanResult.GATEWAY_MAC_CHANGED
            reason = (f"gateway {gateway} answers from {', '.join(gateway_macs)}, previously {self._gateway_mac or 'unknown'}"
                      f"{' (several MACs: possible ARP spoofing)' if len(gateway_macs) > 1 else ''}")
            gateway_mac = other
        if gateway_mac:
            self._gateway_mac = gateway_mac
        self._save(iface)
        fields: dict[str, FieldValue | None] = {
            "hosts_up": len(seen), "known_hosts": len(known), "new_hosts": new, "vanished_hosts": vanished,
            "gateway_up": 1 if gateway_macs else 0, "gateway_mac": gateway_mac or None,
            "gateway_mac_count": len(gateway_macs), "gateway_mac_changed": changed,
            "duration_ms": (time.perf_counter() - started) * 1000.0, **result_fields(code, reason),
        }
        return [self.point("lan_scan", fields, tags, ts), *events]

    @classmethod
    def check_lines(cls, points: list[Point]) -> list[CheckLine]:
        lines: list[CheckLine] = []
        events = [p for p in points if p.m == "lan_event"]
        for p in points:
            if p.m != "lan_scan":
                continue
            target = f"Mạng nội bộ {p.tg.get('subnet', p.tg.get('interface', ''))}".strip()
            result = p.f.get("result")
            if result == LanResult.DISABLED:
                lines.append(CheckLine(SECTION, target, "warn",
                                       "Chưa quét được mạng nội bộ: cần chạy chương trình với quyền quản trị."))
                continue
            if result == LanResult.ERROR:
                lines.append(CheckLine(SECTION, target, "fail", "Quét mạng nội bộ bị lỗi. Báo cho đội ứng cứu của tỉnh."))
                continue
            parts: list[str] = []
            status = "ok"
            if result == LanResult.GATEWAY_UNREACHABLE:
                status = "fail"
                parts.append("Cổng mạng (modem/router) không trả lời trong mạng nội bộ: kiểm tra nguồn điện và dây mạng của nó.")
            if result == LanResult.GATEWAY_MAC_CHANGED:
                status = "fail"
                parts.append("Cổng mạng vừa đổi sang thiết bị khác: nếu không ai thay modem/router, có thể có máy "
                             "giả mạo. Báo ngay cho đội ứng cứu của tỉnh.")
            new = sum(1 for e in events if e.tg.get("event") == "new_host")
            gone = sum(1 for e in events if e.tg.get("event") == "vanished_host")
            if new:
                status = "warn" if status == "ok" else status
                macs = ", ".join(str(e.f.get("mac")) for e in events if e.tg.get("event") == "new_host")
                parts.append(f"Có {new} thiết bị mới trong mạng ({macs}).")
            if gone:
                status = "warn" if status == "ok" else status
                parts.append(f"Có {gone} thiết bị không còn thấy trong mạng.")
            parts.insert(0, f"{p.f.get('hosts_up', 0)} thiết bị đang hoạt động.")
            lines.append(CheckLine(SECTION, target, status, " ".join(parts)))
        return lines
