"""snmp: poll the site's routers and switches over SNMP v2c or v3 (authPriv), LibreNMS / Telegraf style.

Per device (all devices polled concurrently; each has its own request timeout, retries and deadline, so a
slow or dead device never delays the others): system scalars, the interface table (IF-MIB, multi-column
GETBULK walks, numeric OIDs), CPU and memory from the vendor profile or HOST-RESOURCES-MIB.

Measurements
- ``snmp_device`` (tags ``device``, ``host``, ``vendor``): result, ok, reason, uptime_s (float), rebooted
  (0/1), sys_name, sys_descr, sys_object_id (strings), cpu_percent, mem_percent (float, when answered),
  interfaces, interfaces_up (int), uplink_found, uplink_up (0/1), uplink_in_util_percent,
  uplink_out_util_percent (float), uplink_saturated (0/1), poll_ms (float), requests (int).
- ``snmp_interface`` (tags ``device``, ``interface`` = ifName or ifDescr, ``if_index``, ``role`` = uplink
  for the configured uplink): if_descr, if_alias (string), if_type, admin_status, oper_status (int, IF-MIB
  codes: 1 up, 2 down, ...), admin_up, oper_up (0/1), speed_bps (int), in_octets, out_octets (int, raw
  counters), and from the second poll on: in_bps, out_bps, in_util_percent, out_util_percent,
  in_errors_per_s, out_errors_per_s, in_discards_per_s, out_discards_per_s (float).
- ``snmp_event`` (tags ``device``, ``event`` = reboot): previous_uptime_s, uptime_s (float).

Rates come from counter deltas between two polls of the same probe instance. A device restart (sysUpTime
going back), a 64-bit counter going back, or a rate above the interface speed gives no rate that round
(never a negative or absurd one); 32-bit counters that wrap are unwrapped once.

Result codes (``snmp_device``): ok; timeout (no answer within timeout x retries); auth_error (SNMPv3 user,
keys or protocols rejected; a wrong privacy key is diagnosed with an unauthenticated request, since agents
drop what they cannot decrypt); uplink_down (the device answers but its uplink is down); error (anything
else, e.g. an SNMP error status). A configured uplink that does not exist is not a failure: the result
stays ok, ``uplink_found`` is 0 and ``reason`` says so.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

import msgspec

from agent.probes.base import RESULT_OK, CheckLine, Probe, ProbeConfig, ProbeContext, result_fields
from agent.probes.snmp_profiles import (
    HR_PROCESSOR_LOAD,
    HR_STORAGE_RAM,
    HR_STORAGE_SIZE,
    HR_STORAGE_TYPE,
    HR_STORAGE_USED,
    SnmpProfile,
    profile_names,
    select_profile,
)
from agent.units import Duration
from agent.wire import FieldValue, Point

SECTION = "Thiết bị mạng"

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"

IF_COLUMNS: dict[str, str] = {
    "descr": "1.3.6.1.2.1.2.2.1.2",
    "type": "1.3.6.1.2.1.2.2.1.3",
    "speed": "1.3.6.1.2.1.2.2.1.5",
    "admin": "1.3.6.1.2.1.2.2.1.7",
    "oper": "1.3.6.1.2.1.2.2.1.8",
    "in_octets32": "1.3.6.1.2.1.2.2.1.10",
    "in_discards": "1.3.6.1.2.1.2.2.1.13",
    "in_errors": "1.3.6.1.2.1.2.2.1.14",
    "out_octets32": "1.3.6.1.2.1.2.2.1.16",
    "out_discards": "1.3.6.1.2.1.2.2.1.19",
    "out_errors": "1.3.6.1.2.1.2.2.1.20",
    "name": "1.3.6.1.2.1.31.1.1.1.1",
    "in_octets64": "1.3.6.1.2.1.31.1.1.1.6",
    "out_octets64": "1.3.6.1.2.1.31.1.1.1.10",
    "high_speed": "1.3.6.1.2.1.31.1.1.1.15",
    "alias": "1.3.6.1.2.1.31.1.1.1.18",
}

TICKS_WRAP = 2**32
C32 = 2**32
MAX_REQUESTS_PER_DEVICE = 2000

AuthProto = Literal["md5", "sha", "sha224", "sha256", "sha384", "sha512"]
PrivProto = Literal["des", "3des", "aes", "aes128", "aes192", "aes256"]


class SnmpV3(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    user: Annotated[str, msgspec.Meta(min_length=1)]
    auth_protocol: AuthProto = "sha"
    auth_key: Annotated[str, msgspec.Meta(min_length=8)]
    priv_protocol: PrivProto = "aes"
    priv_key: Annotated[str, msgspec.Meta(min_length=8)]
    context: str = ""


class SnmpDevice(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]
    host: Annotated[str, msgspec.Meta(min_length=1)]
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 161
    version: Literal["2c", "3"] = "2c"
    community: str = "public"
    v3: SnmpV3 | None = None
    profile: str = ""
    """Vendor profile name; empty: chosen from sysObjectID."""
    timeout: Duration = Duration(2)
    """Timeout of one SNMP request."""
    retries: Annotated[int, msgspec.Meta(ge=0, le=5)] = 1
    uplink: str = ""
    """The uplink interface: its ifName, ifDescr, ifAlias or ifIndex."""
    uplink_bandwidth_mbps: Annotated[float, msgspec.Meta(gt=0)] | None = None
    """Contracted bandwidth of the uplink; utilisation is computed against it instead of ifSpeed."""
    interfaces: list[str] = msgspec.field(default_factory=list)
    """Interfaces to report (ifName, ifDescr, ifAlias or ifIndex); empty: all (up to max_interfaces)."""

    def __post_init__(self) -> None:
        if self.version == "3" and self.v3 is None:
            raise ValueError("version 3 needs a v3 section (user, auth_key, priv_key)")


class SnmpConfig(ProbeConfig, kw_only=True):
    interval: Duration = Duration(60)
    timeout: Duration = Duration(30)
    devices: list[SnmpDevice] = msgspec.field(default_factory=list)
    profiles: list[SnmpProfile] = msgspec.field(default_factory=list)
    """Extra vendor profiles, tried before the built-in ones."""
    bulk_varbinds: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 64
    """Variable bindings asked for in one GETBULK (spread over the columns walked)."""
    max_interfaces: Annotated[int, msgspec.Meta(ge=1, le=4000)] = 256
    uplink_saturation_percent: Annotated[float, msgspec.Meta(gt=0, le=100)] = 80.0

    def __post_init__(self) -> None:
        names = [d.name for d in self.devices]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"device names must be unique, repeated: {', '.join(dupes)}")
        known = profile_names(self.profiles)
        for d in self.devices:
            if d.profile and d.profile not in known:
                raise ValueError(f"device {d.name!r}: unknown profile {d.profile!r} (known: {', '.join(sorted(known))})")


class SnmpFailure(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


_AUTH_INDICATIONS = {
    "WrongDigest", "UnknownUserName", "UnsupportedSecurityLevel", "AuthenticationError", "AuthenticationFailure",
    "DecryptionError", "UnknownSecurityName", "UnknownEngineID", "NotInTimeWindow",
}


def _indication_code(indication: Any) -> str:
    name = type(indication).__name__
    if name == "RequestTimedOut":
        return "timeout"
    if name in _AUTH_INDICATIONS:
        return "auth_error"
    return "error"


def _py(value: Any) -> int | str | None:
    """pysnmp value -> int, str or None (noSuchObject / noSuchInstance / endOfMibView)."""
    from pyasn1.type import univ
    from pysnmp.proto import rfc1905

    if isinstance(value, rfc1905.NoSuchObject | rfc1905.NoSuchInstance | rfc1905.EndOfMibView):
        return None
    if isinstance(value, univ.ObjectIdentifier):
        return str(value)
    if isinstance(value, univ.OctetString):
        return bytes(value.asOctets()).decode("utf-8", "replace").strip("\x00").strip()
    if isinstance(value, univ.Integer):
        return int(value)
    return None


def counter_rate(prev: int | None, cur: int | None, dt: float, bits: int, max_rate: float | None = None) -> float | None:
    """Per-second rate of a counter between two polls; None when it cannot be trusted.

    A 32-bit counter that went back by less than half its range wrapped once; anything else going back
    (a reset, a 64-bit counter) gives no rate. A rate above ``max_rate`` is absurd and dropped.
    """
    if prev is None or cur is None or dt <= 0:
        return None
    delta = cur - prev
    if delta < 0:
        if bits != 32 or prev >= C32 or cur >= C32:
            return None
        delta += C32
        if delta >= C32 // 2:
            return None
    rate = delta / dt
    if max_rate is not None and rate > max_rate:
        return None
    return rate


@dataclass
class _DeviceState:
    ts_ns: int
    uptime_ticks: int
    ifaces: dict[str, dict[str, int]] = field(default_factory=dict)


class SnmpProbe(Probe[SnmpConfig]):
    name: ClassVar[str] = "snmp"
    Config: ClassVar[type[ProbeConfig]] = SnmpConfig

    def __init__(self, config: SnmpConfig, ctx: ProbeContext) -> None:
        super().__init__(config, ctx)
        # one SNMP engine per device: SNMPv3 users (same name, other keys) and discovered engine IDs never mix
        self._engines: dict[str, Any] = {}
        self._state: dict[str, _DeviceState] = {}

    async def close(self) -> None:
        for engine in self._engines.values():
            engine.close_dispatcher()
        self._engines.clear()

    async def collect(self) -> list[Point]:
        results = await asyncio.gather(*(self.poll_device(d) for d in self.config.devices))
        return [p for pts in results for p in pts]

    # SNMP plumbing -----------------------------------------------------------------------
    def _auth(self, dev: SnmpDevice) -> Any:
        from pysnmp.hlapi.v3arch import asyncio as hl

        if dev.version == "2c" or dev.v3 is None:
            return hl.CommunityData(dev.community, mpModel=1)
        auth = {
            "md5": hl.usmHMACMD5AuthProtocol, "sha": hl.usmHMACSHAAuthProtocol,
            "sha224": hl.usmHMAC128SHA224AuthProtocol, "sha256": hl.usmHMAC192SHA256AuthProtocol,
            "sha384": hl.usmHMAC256SHA384AuthProtocol, "sha512": hl.usmHMAC384SHA512AuthProtocol,
        }[dev.v3.auth_protocol]
        priv = {
            "des": hl.usmDESPrivProtocol, "3des": hl.usm3DESEDEPrivProtocol, "aes": hl.usmAesCfb128Protocol,
            "aes128": hl.usmAesCfb128Protocol, "aes192": hl.usmAesCfb192Protocol, "aes256": hl.usmAesCfb256Protocol,
        }[dev.v3.priv_protocol]
        return hl.UsmUserData(dev.v3.user, authKey=dev.v3.auth_key, privKey=dev.v3.priv_key,
                              authProtocol=auth, privProtocol=priv)

    async def _session(self, dev: SnmpDevice) -> _Session:
        from pysnmp.hlapi.v3arch import asyncio as hl

        engine = self._engines.get(dev.name)
        if engine is None:
            engine = self._engines[dev.name] = hl.SnmpEngine()
        try:
            target = await hl.UdpTransportTarget.create((dev.host, dev.port), timeout=float(dev.timeout),
                                                        retries=dev.retries)
        except Exception as exc:  # name resolution and the like
            raise SnmpFailure("error", f"cannot reach {dev.host}:{dev.port}: {exc}") from None
        context = hl.ContextData(contextName=dev.v3.context) if dev.v3 and dev.v3.context else hl.ContextData()
        return _Session(engine, self._auth(dev), target, context, self.config.bulk_varbinds)

    # one device --------------------------------------------------------------------------
    async def poll_device(self, dev: SnmpDevice) -> list[Point]:
        tags = {"device": dev.name, "host": dev.host}
        ts = self.ctx.clock_ns()
        started = time.perf_counter()
        deadline = max(1.0, float(self.config.timeout) * 0.9)
        session: _Session | None = None
        try:
            async with asyncio.timeout(deadline):
                session = await self._session(dev)
                return await self._poll(dev, session, tags, ts, started)
        except SnmpFailure as exc:
            fail = (exc.code, exc.reason)
            if exc.code == "timeout" and dev.version == "3" and dev.v3 is not None:
                fail = await self._diagnose_v3(dev) or fail
        except TimeoutError:
            fail = ("timeout", f"poll of {dev.host} did not finish within {deadline:g}s")
        except Exception as exc:  # one device's surprise must not stop the others
            self.ctx.log.exception("snmp poll of %s failed", dev.name)
            fail = ("error", f"{type(exc).__name__}: {exc}")
        fields: dict[str, FieldValue | None] = {
            "poll_ms": (time.perf_counter() - started) * 1000.0,
            "requests": session.requests if session else 0,
            **result_fields(*fail),
        }
        return [self.point("snmp_device", fields, tags, ts)]

    async def _diagnose_v3(self, dev: SnmpDevice) -> tuple[str, str] | None:
        """After a v3 timeout: does the device answer an unauthenticated request for the same user?

        An agent silently drops a request it cannot decrypt (wrong privacy key or protocol), which looks
        like a dead device. If it answers noAuthNoPriv with authorizationError, it is alive and knows the
        user, so the keys are wrong; if it says the user is unknown, the user name is wrong.
        """
        from pysnmp.hlapi.v3arch import asyncio as hl

        assert dev.v3 is not None
        engine = hl.SnmpEngine()
        try:
            async with asyncio.timeout(float(dev.timeout) + 1.0):
                target = await hl.UdpTransportTarget.create((dev.host, dev.port), timeout=float(dev.timeout), retries=0)
                indication, status, _, _ = await hl.get_cmd(
                    engine, hl.UsmUserData(dev.v3.user), target, hl.ContextData(),
                    hl.ObjectType(hl.ObjectIdentity(SYS_UPTIME)), lookupMib=False,
                )
        except Exception:
            return None
        finally:
            engine.close_dispatcher()
        if indication is None and status:
            return ("auth_error", f"{dev.host} answers SNMPv3 for user {dev.v3.user!r} but drops requests with the "
                                  f"configured keys: the privacy key or protocol is probably wrong")
        if indication is not None and _indication_code(indication) == "auth_error":
            return ("auth_error", f"{type(indication).__name__}: {indication} (user {dev.v3.user!r})")
        return None

    async def _poll(self, dev: SnmpDevice, s: _Session, tags: dict[str, str], ts: int, started: float) -> list[Point]:
        system = await s.get([SYS_DESCR, SYS_OBJECT_ID, SYS_UPTIME, SYS_NAME])
        uptime = system.get(SYS_UPTIME)
        if not isinstance(uptime, int):
            raise SnmpFailure("error", f"{dev.host} did not return sysUpTime")
        sys_oid = str(system.get(SYS_OBJECT_ID) or "")
        profile = select_profile(sys_oid, self.config.profiles, dev.profile)
        tags = {**tags, "vendor": profile.name}

        columns = [*IF_COLUMNS.values(), HR_PROCESSOR_LOAD, HR_STORAGE_TYPE, HR_STORAGE_SIZE, HR_STORAGE_USED]
        for oid in (profile.cpu_oid, profile.mem_percent_oid, profile.mem_used_oid, profile.mem_free_oid):
            if oid and oid not in columns:
                columns.append(oid)
        table = await s.walk(columns)

        points: list[Point] = []
        prev = self._state.get(dev.name)
        dt = (ts - prev.ts_ns) / 1e9 if prev else 0.0
        rebooted = False
        if prev is not None and uptime < prev.uptime_ticks:
            # sysUpTime wraps after 497 days: a small value just after the top of the range is not a reboot
            wrapped = prev.uptime_ticks > TICKS_WRAP - (dt + 120) * 100 and uptime < (dt + 120) * 100
            rebooted = not wrapped
        if rebooted and prev is not None:
            points.append(self.point("snmp_event", {"previous_uptime_s": prev.uptime_ticks / 100.0,
                                                    "uptime_s": uptime / 100.0}, {"device": dev.name, "event": "reboot"}, ts))
        use_prev = prev if (prev is not None and not rebooted and dt > 0) else None

        new_state = _DeviceState(ts_ns=ts, uptime_ticks=uptime)
        if_points, summary = self._interfaces(dev, table, use_prev, dt, new_state, ts)
        self._state[dev.name] = new_state

        fields: dict[str, FieldValue | None] = {
            "uptime_s": uptime / 100.0,
            "rebooted": 1 if rebooted else 0,
            "sys_name": _clip(system.get(SYS_NAME)),
            "sys_descr": _clip(system.get(SYS_DESCR)),
            "sys_object_id": sys_oid,
            "cpu_percent": _cpu(profile, table),
            "mem_percent": _mem(profile, table),
            "interfaces": summary["interfaces"],
            "interfaces_up": summary["interfaces_up"],
        }
        code, reason = RESULT_OK, ""
        if dev.uplink:
            up = summary.get("uplink")
            fields["uplink_found"] = 0 if up is None else 1
            if up is None:
                reason = f"uplink interface {dev.uplink!r} not found on {dev.name}"
            else:
                fields["uplink_up"] = up["oper_up"]
                fields["uplink_in_util_percent"] = up.get("in_util_percent")
                fields["uplink_out_util_percent"] = up.get("out_util_percent")
                utils = [u for u in (up.get("in_util_percent"), up.get("out_util_percent")) if isinstance(u, float)]
                fields["uplink_saturated"] = 1 if utils and max(utils) >= self.config.uplink_saturation_percent else 0
                if up["oper_up"] != 1:
                    code, reason = "uplink_down", f"uplink {up['name']} of {dev.name} is down (ifOperStatus {up['oper_status']})"
        fields["poll_ms"] = (time.perf_counter() - started) * 1000.0
        fields["requests"] = s.requests
        fields.update(result_fields(code, reason))
        return [self.point("snmp_device", fields, tags, ts), *points, *if_points]

    def _interfaces(
        self, dev: SnmpDevice, table: dict[str, dict[str, int | str]], prev: _DeviceState | None, dt: float,
        state: _DeviceState, ts: int,
    ) -> tuple[list[Point], dict[str, Any]]:
        col = {k: table.get(oid, {}) for k, oid in IF_COLUMNS.items()}
        indexes = sorted(set(col["descr"]) | set(col["name"]) | set(col["oper"]), key=_index_key)
        wanted = set(dev.interfaces)
        points: list[Point] = []
        summary: dict[str, Any] = {"interfaces": 0, "interfaces_up": 0}
        for idx in indexes:
            name = str(col["name"].get(idx) or col["descr"].get(idx) or f"if{idx}")
            descr = str(col["descr"].get(idx) or "")
            alias = str(col["alias"].get(idx) or "")
            keys = {idx, name, descr, alias} - {""}
            is_uplink = bool(dev.uplink) and dev.uplink in keys
            if wanted and not (keys & wanted) and not is_uplink:
                continue
            if summary["interfaces"] >= self.config.max_interfaces and not is_uplink:
                continue
            admin = _int(col["admin"].get(idx))
            oper = _int(col["oper"].get(idx))
            speed = _speed(col["speed"].get(idx), col["high_speed"].get(idx))
            if is_uplink and dev.uplink_bandwidth_mbps:
                speed = int(dev.uplink_bandwidth_mbps * 1_000_000)
            counters: dict[str, int] = {}
            bits: dict[str, int] = {}
            for direction in ("in", "out"):
                c64 = col[f"{direction}_octets64"].get(idx)
                c32 = col[f"{direction}_octets32"].get(idx)
                if isinstance(c64, int):
                    counters[f"{direction}_octets"], bits[f"{direction}_octets"] = c64, 64
                elif isinstance(c32, int):
                    counters[f"{direction}_octets"], bits[f"{direction}_octets"] = c32, 32
                for kind in ("errors", "discards"):
                    v = col[f"{direction}_{kind}"].get(idx)
                    if isinstance(v, int):
                        counters[f"{direction}_{kind}"], bits[f"{direction}_{kind}"] = v, 32
            state.ifaces[idx] = {**counters, **{f"bits:{k}": b for k, b in bits.items()}}
            fields: dict[str, FieldValue | None] = {
                "if_descr": _clip(descr), "if_alias": _clip(alias), "if_type": _int(col["type"].get(idx)),
                "admin_status": admin, "oper_status": oper,
                "admin_up": None if admin is None else int(admin == 1),
                "oper_up": None if oper is None else int(oper == 1),
                "speed_bps": speed,
                "in_octets": counters.get("in_octets"), "out_octets": counters.get("out_octets"),
            }
            old = prev.ifaces.get(idx) if prev else None
            if old is not None:
                max_bytes = speed * 1.05 / 8 if speed else None
                max_pkts = speed / 512.0 * 1.05 if speed else None  # 64-byte frames at line rate
                for key, value in counters.items():
                    if old.get(f"bits:{key}") != bits[key]:
                        continue  # switched between 32- and 64-bit counters: no delta
                    limit = max_bytes if key.endswith("octets") else max_pkts
                    rate = counter_rate(old.get(key), value, dt, bits[key], limit)
                    if rate is None:
                        continue
                    direction, kind = key.split("_", 1)
                    if kind == "octets":
                        fields[f"{direction}_bps"] = rate * 8.0
                        if speed:
                            fields[f"{direction}_util_percent"] = min(100.0, rate * 8.0 / speed * 100.0)
                    else:
                        fields[f"{key}_per_s"] = rate
            tags = {"device": dev.name, "interface": _clip(name) or f"if{idx}", "if_index": idx}
            if is_uplink:
                tags["role"] = "uplink"
                summary["uplink"] = {"name": name, "oper_up": int(oper == 1), "oper_status": oper,
                                     "in_util_percent": fields.get("in_util_percent"),
                                     "out_util_percent": fields.get("out_util_percent")}
            summary["interfaces"] += 1
            summary["interfaces_up"] += int(oper == 1)
            points.append(self.point("snmp_interface", fields, tags, ts))
        return points, summary

    # check -------------------------------------------------------------------------------
    @classmethod
    def check_lines(cls, points: list[Point]) -> list[CheckLine]:
        lines: list[CheckLine] = []
        for p in points:
            if p.m != "snmp_device":
                continue
            name = p.tg.get("device", "?")
            target = f"{name} ({p.tg.get('host', '')})"
            result = str(p.f.get("result", ""))
            if result in ("timeout", "auth_error", "error"):
                text = {
                    "timeout": "Thiết bị không trả lời SNMP. Kiểm tra nguồn điện, dây mạng của thiết bị và cấu hình SNMP.",
                    "auth_error": "Thiết bị từ chối thông tin đăng nhập SNMPv3 (tên người dùng hoặc khóa sai). "
                                  "Kiểm tra lại cấu hình SNMP trên thiết bị và trong agent.",
                    "error": "Không đọc được dữ liệu SNMP của thiết bị. Báo cho đội ứng cứu của tỉnh.",
                }[result]
                lines.append(CheckLine(SECTION, target, "fail", text))
                continue
            problems: list[tuple[str, str]] = []
            if result == "uplink_down":
                problems.append(("fail", "Cổng uplink (đường Internet) của thiết bị đang mất kết nối. "
                                         "Kiểm tra dây nối tới modem/nhà mạng."))
            if p.f.get("uplink_found") == 0:
                problems.append(("warn", "Không tìm thấy cổng uplink đã cấu hình trên thiết bị."))
            if p.f.get("rebooted") == 1:
                problems.append(("warn", f"Thiết bị vừa khởi động lại (đã chạy {_vn_duration(p.f.get('uptime_s'))}). "
                                         "Nếu lặp lại nhiều lần, kiểm tra nguồn điện và bộ lưu điện."))
            if p.f.get("uplink_saturated") == 1:
                problems.append(("warn", "Đường uplink đang quá tải (gần hết băng thông). "
                                         "Mạng có thể chậm; kiểm tra máy nào đang tải nhiều."))
            if not problems:
                up = p.f.get("interfaces_up")
                total = p.f.get("interfaces")
                lines.append(CheckLine(SECTION, target, "ok", f"Hoạt động bình thường, {up}/{total} cổng đang hoạt động."))
                continue
            worst = "fail" if any(s == "fail" for s, _ in problems) else "warn"
            lines.append(CheckLine(SECTION, target, worst, " ".join(t for _, t in problems)))
        return lines


class _Session:
    """One device's SNMP requests: GET and multi-column GETBULK walks; counts requests."""

    def __init__(self, engine: Any, auth: Any, target: Any, context: Any, bulk_varbinds: int) -> None:
        self.engine, self.auth, self.target, self.context = engine, auth, target, context
        self.bulk_varbinds = bulk_varbinds
        self.requests = 0

    def _check(self, indication: Any, status: Any, index: Any, var_binds: Any) -> None:
        if indication:
            raise SnmpFailure(_indication_code(indication), f"{type(indication).__name__}: {indication}")
        if status and str(status.prettyPrint()) != "noError" and str(status.prettyPrint()) != "tooBig":
            raise SnmpFailure("error", f"SNMP error status {status.prettyPrint()} at index {index}")

    async def get(self, oids: list[str]) -> dict[str, int | str | None]:
        from pysnmp.hlapi.v3arch import asyncio as hl

        self.requests += 1
        indication, status, index, var_binds = await hl.get_cmd(
            self.engine, self.auth, self.target, self.context, *(hl.ObjectType(hl.ObjectIdentity(o)) for o in oids),
            lookupMib=False,
        )
        self._check(indication, status, index, var_binds)
        return {str(vb[0]): _py(vb[1]) for vb in var_binds}

    async def walk(self, columns: list[str]) -> dict[str, dict[str, int | str]]:
        """Walk several table columns in parallel with GETBULK; ``{column: {index: value}}``."""
        from pysnmp.hlapi.v3arch import asyncio as hl

        out: dict[str, dict[str, int | str]] = {c: {} for c in columns}
        cursor: dict[str, str] = {c: c for c in columns}
        budget = self.bulk_varbinds
        while cursor:
            if self.requests >= MAX_REQUESTS_PER_DEVICE:
                break
            cols = list(cursor)[: max(1, budget)]
            reps = max(1, budget // len(cols))
            self.requests += 1
            indication, status, index, var_binds = await hl.bulk_cmd(
                self.engine, self.auth, self.target, self.context, 0, reps,
                *(hl.ObjectType(hl.ObjectIdentity(cursor[c])) for c in cols), lookupMib=False,
            )
            self._check(indication, status, index, var_binds)
            if status and str(status.prettyPrint()) == "tooBig":
                if budget == 1:
                    raise SnmpFailure("error", "device answers tooBig even to one variable")
                budget = max(1, budget // 2)
                continue
            seen: set[str] = set()
            if not var_binds:
                break
            for i, vb in enumerate(var_binds):
                c = cols[i % len(cols)]
                if c not in cursor:
                    continue
                oid = str(vb[0])
                value = _py(vb[1])
                prefix = c + "."
                if not oid.startswith(prefix) or value is None or _oid_key(oid) <= _oid_key(cursor[c]):
                    del cursor[c]  # left the column, end of MIB, or an agent going backwards
                    continue
                out[c][oid[len(prefix):]] = value
                cursor[c] = oid
                seen.add(c)
            for c in cols:
                if c in cursor and c not in seen:
                    del cursor[c]  # no progress at all: stop rather than loop
        return out


def _oid_key(oid: str) -> tuple[int, ...]:
    return tuple(int(x) for x in oid.split(".") if x)


def _index_key(idx: str) -> tuple[int, ...]:
    try:
        return _oid_key(idx)
    except ValueError:
        return (2**31,)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def _clip(value: Any, n: int = 256) -> str | None:
    if value is None:
        return None
    text = "".join(ch if ch >= " " else " " for ch in str(value)).strip()
    return text[:n]


def _speed(speed: Any, high_speed: Any) -> int:
    """Interface speed in bit/s: ifHighSpeed (Mbit/s) when ifSpeed is saturated or missing."""
    s = speed if isinstance(speed, int) else 0
    hs = high_speed if isinstance(high_speed, int) else 0
    if hs and (s == 0 or s >= 4294967295 or hs * 1_000_000 > s):
        return hs * 1_000_000
    return s


def _aggregate(values: list[int], how: str) -> float | None:
    nums = [v for v in values if 0 <= v <= 100]
    if not nums:
        return None
    return float(max(nums)) if how == "max" else float(sum(nums)) / len(nums)


def _cpu(profile: SnmpProfile, table: dict[str, dict[str, int | str]]) -> float | None:
    if profile.cpu_oid:
        vals = [v for v in table.get(profile.cpu_oid, {}).values() if isinstance(v, int)]
        got = _aggregate(vals, profile.cpu_aggregate)
        if got is not None:
            return got
    vals = [v for v in table.get(HR_PROCESSOR_LOAD, {}).values() if isinstance(v, int)]
    return _aggregate(vals, "avg")


def _mem(profile: SnmpProfile, table: dict[str, dict[str, int | str]]) -> float | None:
    if profile.mem_percent_oid:
        vals = [v for v in table.get(profile.mem_percent_oid, {}).values() if isinstance(v, int)]
        got = _aggregate(vals, "max")
        if got is not None:
            return got
    if profile.mem_used_oid and profile.mem_free_oid:
        used = sum(v for v in table.get(profile.mem_used_oid, {}).values() if isinstance(v, int))
        free = sum(v for v in table.get(profile.mem_free_oid, {}).values() if isinstance(v, int))
        if used + free > 0:
            return used * 100.0 / (used + free)
    types = table.get(HR_STORAGE_TYPE, {})
    size_col, used_col = table.get(HR_STORAGE_SIZE, {}), table.get(HR_STORAGE_USED, {})
    total = used_total = 0
    for idx, kind in types.items():
        if kind != HR_STORAGE_RAM:
            continue
        size, used_v = size_col.get(idx), used_col.get(idx)
        if isinstance(size, int) and isinstance(used_v, int) and size > 0:
            total += size
            used_total += used_v
    if total > 0:
        return used_total * 100.0 / total
    return None


def _vn_duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "không rõ"
    s = int(seconds)
    if s < 3600:
        return f"{s // 60} phút"
    if s < 86400:
        return f"{s // 3600} giờ {s % 3600 // 60} phút"
    return f"{s // 86400} ngày {s % 86400 // 3600} giờ"
