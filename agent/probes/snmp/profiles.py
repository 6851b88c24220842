"""Vendor profiles for the ``snmp`` probe: which numeric OIDs give CPU and memory on which devices.

A profile is chosen by the device's sysObjectID (longest matching enterprise prefix; first the profiles
from the config, then the built-in ones below), or by name with ``profile:`` in a device's config.
Every profile falls back to HOST-RESOURCES-MIB (hrProcessorLoad, hrStorage RAM) when its own OIDs are
missing, and a device that answers neither simply has no cpu/memory fields.

Only OIDs from public MIBs are used (numeric, no MIB compilation):
- Cisco: CISCO-PROCESS-MIB cpmCPUTotal5minRev, CISCO-MEMORY-POOL-MIB ciscoMemoryPoolUsed/Free.
- Huawei: HUAWEI-ENTITY-EXTENT-MIB hwEntityCpuUsage / hwEntityMemUsage (busiest board).
- H3C / HPE Comware: HH3C-ENTITY-EXT-MIB hh3cEntityExtCpuUsage / hh3cEntityExtMemUsage.
- Juniper: JUNIPER-MIB jnxOperatingCPU / jnxOperatingBuffer.
- TP-Link: TPLINK-SYSMONITOR-MIB tpSysMonitorCpu1Minute / tpSysMonitorMemoryUtilization.
- MikroTik RouterOS and DrayTek Vigor: MIB-2 + HOST-RESOURCES (what they answer), identified by prefix.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

NumericOid = Annotated[str, msgspec.Meta(pattern=r"^1(\.\d+)+$")]


class SnmpProfile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """A vendor profile. All OIDs are numeric table columns (walked), without a leading dot."""

    name: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
    sys_object_id_prefixes: list[NumericOid] = msgspec.field(default_factory=list)
    """sysObjectID prefixes that select this profile (e.g. ``1.3.6.1.4.1.9``)."""
    cpu_oid: NumericOid | None = None
    """Column whose rows are CPU load in percent."""
    cpu_aggregate: Literal["avg", "max"] = "avg"
    """How rows combine: ``avg`` over cores, or ``max`` (the busiest board of a chassis)."""
    mem_percent_oid: NumericOid | None = None
    """Column whose rows are memory use in percent."""
    mem_used_oid: NumericOid | None = None
    """Column of bytes used (summed over rows); with ``mem_free_oid`` gives memory percent."""
    mem_free_oid: NumericOid | None = None


GENERIC = SnmpProfile(name="generic")

BUILTIN_PROFILES: tuple[SnmpProfile, ...] = (
    SnmpProfile(
        name="cisco", sys_object_id_prefixes=["1.3.6.1.4.1.9"],
        cpu_oid="1.3.6.1.4.1.9.9.109.1.1.1.1.8", cpu_aggregate="avg",
        mem_used_oid="1.3.6.1.4.1.9.9.48.1.1.1.5", mem_free_oid="1.3.6.1.4.1.9.9.48.1.1.1.6",
    ),
    SnmpProfile(
        name="huawei", sys_object_id_prefixes=["1.3.6.1.4.1.2011"],
        cpu_oid="1.3.6.1.4.1.2011.5.25.31.1.1.1.1.5", cpu_aggregate="max",
        mem_percent_oid="1.3.6.1.4.1.2011.5.25.31.1.1.1.1.7",
    ),
    SnmpProfile(
        name="h3c", sys_object_id_prefixes=["1.3.6.1.4.1.25506", "1.3.6.1.4.1.2011.10"],
        cpu_oid="1.3.6.1.4.1.25506.2.6.1.1.1.1.6", cpu_aggregate="max",
        mem_percent_oid="1.3.6.1.4.1.25506.2.6.1.1.1.1.8",
    ),
    SnmpProfile(
        name="juniper", sys_object_id_prefixes=["1.3.6.1.4.1.2636"],
        cpu_oid="1.3.6.1.4.1.2636.3.1.13.1.8", cpu_aggregate="max",
        mem_percent_oid="1.3.6.1.4.1.2636.3.1.13.1.11",
    ),
    SnmpProfile(
        name="tplink", sys_object_id_prefixes=["1.3.6.1.4.1.11863"],
        cpu_oid="1.3.6.1.4.1.11863.6.4.1.1.1.1.3", cpu_aggregate="avg",
        mem_percent_oid="1.3.6.1.4.1.11863.6.4.1.2.1.1.2",
    ),
    SnmpProfile(name="mikrotik", sys_object_id_prefixes=["1.3.6.1.4.1.14988"]),
    SnmpProfile(name="draytek", sys_object_id_prefixes=["1.3.6.1.4.1.7367"]),
    SnmpProfile(name="netsnmp", sys_object_id_prefixes=["1.3.6.1.4.1.8072"]),
)

# HOST-RESOURCES-MIB, the fallback of every profile.
HR_PROCESSOR_LOAD = "1.3.6.1.2.1.25.3.3.1.2"
HR_STORAGE_TYPE = "1.3.6.1.2.1.25.2.3.1.2"
HR_STORAGE_SIZE = "1.3.6.1.2.1.25.2.3.1.5"
HR_STORAGE_USED = "1.3.6.1.2.1.25.2.3.1.6"
HR_STORAGE_RAM = "1.3.6.1.2.1.25.2.1.2"


def _prefix_matches(prefix: str, oid: str) -> bool:
    return oid == prefix or oid.startswith(prefix + ".")


def select_profile(sys_object_id: str, extra: list[SnmpProfile], forced: str = "") -> SnmpProfile:
    """The profile for a device: by name when ``forced``, else the longest sysObjectID prefix match."""
    candidates = [*extra, *BUILTIN_PROFILES]
    if forced:
        for p in [*candidates, GENERIC]:
            if p.name == forced:
                return p
        return GENERIC
    best: tuple[int, int, SnmpProfile] | None = None
    for order, p in enumerate(candidates):
        for prefix in p.sys_object_id_prefixes:
            if _prefix_matches(prefix, sys_object_id):
                key = (prefix.count("."), -order)
                if best is None or key > best[:2]:
                    best = (key[0], key[1], p)
    return best[2] if best else GENERIC


def profile_names(extra: list[SnmpProfile]) -> set[str]:
    return {p.name for p in (*extra, *BUILTIN_PROFILES, GENERIC)}
