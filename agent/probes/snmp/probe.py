"""The ``snmp`` probe: polls every configured device concurrently, keeps the counters of the last poll
for rates, and turns one poll into ``snmp_device``, ``snmp_interface`` and ``snmp_event`` points."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from agent.probes.base import (
    CheckLine,
    Probe,
    ProbeConfig,
    ProbeContext,
    ProbeFailure,
    result_fields,
)
from agent.probes.snmp import check, session
from agent.probes.snmp.config import SnmpConfig, SnmpDevice
from agent.probes.snmp.mib import IF_COLUMNS, SYS_DESCR, SYS_NAME, SYS_OBJECT_ID, SYS_UPTIME
from agent.probes.snmp.profiles import (
    HR_PROCESSOR_LOAD,
    HR_STORAGE_SIZE,
    HR_STORAGE_TYPE,
    HR_STORAGE_USED,
    select_profile,
)
from agent.probes.snmp.rates import TICKS_WRAP, counter_rate, cpu_percent, interface_speed, mem_percent
from agent.probes.snmp.results import SnmpResult
from agent.probes.snmp.schema import MEASUREMENTS
from agent.probes.snmp.session import Session
from agent.wire import FieldValue, Point
from agent.wire.spec import MeasurementSpec


@dataclass
class _DeviceState:
    ts_ns: int
    uptime_ticks: int
    ifaces: dict[str, dict[str, int]] = field(default_factory=dict)


class SnmpProbe(Probe[SnmpConfig]):
    name: ClassVar[str] = "snmp"
    results: ClassVar[type[StrEnum] | None] = SnmpResult
    Config: ClassVar[type[ProbeConfig]] = SnmpConfig
    measurements: ClassVar[tuple[MeasurementSpec, ...]] = MEASUREMENTS

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

    # one device --------------------------------------------------------------------------
    async def poll_device(self, dev: SnmpDevice) -> list[Point]:
        tags = {"device": dev.name, "host": dev.host}
        ts = self.ctx.clock_ns()
        started = time.perf_counter()
        deadline = max(1.0, float(self.config.timeout) * 0.9)
        s: Session | None = None
        try:
            async with asyncio.timeout(deadline):
                engine = self._engines.get(dev.name)
                if engine is None:
                    engine = self._engines[dev.name] = session.new_engine()
                s = await session.open_session(engine, dev, self.config.bulk_varbinds)
                return await self._poll(dev, s, tags, ts, started)
        except ProbeFailure as exc:
            fail = (exc.code, exc.reason)
            if exc.code == SnmpResult.TIMEOUT and dev.version == "3" and dev.v3 is not None:
                fail = await session.diagnose_v3(dev) or fail
        except TimeoutError:
            fail = (SnmpResult.TIMEOUT, f"poll of {dev.host} did not finish within {deadline:g}s")
        except Exception as exc:  # one device's surprise must not stop the others
            self.ctx.log.exception("snmp poll of %s failed", dev.name)
            fail = (SnmpResult.ERROR, f"{type(exc).__name__}: {exc}")
        fields: dict[str, FieldValue | None] = {
            "poll_ms": (time.perf_counter() - started) * 1000.0,
            "requests": s.requests if s else 0,
            **result_fields(*fail),
        }
        return [self.point("snmp_device", fields, tags, ts)]

    async def _poll(self, dev: SnmpDevice, s: Session, tags: dict[str, str], ts: int, started: float) -> list[Point]:
        system = await s.get([SYS_DESCR, SYS_OBJECT_ID, SYS_UPTIME, SYS_NAME])
        uptime = system.get(SYS_UPTIME)
        if not isinstance(uptime, int):
            raise ProbeFailure(SnmpResult.ERROR, f"{dev.host} did not return sysUpTime")
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
            "cpu_percent": cpu_percent(profile, table),
            "mem_percent": mem_percent(profile, table),
            "interfaces": summary["interfaces"],
            "interfaces_up": summary["interfaces_up"],
        }
        code, reason = SnmpResult.OK, ""
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
                    code, reason = SnmpResult.UPLINK_DOWN, f"uplink {up['name']} of {dev.name} is down (ifOperStatus {up['oper_status']})"
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
            speed = interface_speed(col["speed"].get(idx), col["high_speed"].get(idx))
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

    @classmethod
    def check_lines(cls, points: list[Point]) -> list[CheckLine]:
        return check.check_lines(points)


def _index_key(idx: str) -> tuple[int, ...]:
    try:
        return session.oid_key(idx)
    except ValueError:
        return (2**31,)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def _clip(value: Any, n: int = 256) -> str | None:
    if value is None:
        return None
    text = "".join(ch if ch >= " " else " " for ch in str(value)).strip()
    return text[:n]
