"""Config of the ``snmp`` probe: devices (v2c or v3 authPriv), extra vendor profiles, limits."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from agent.probes.base import ProbeConfig
from agent.probes.snmp.profiles import SnmpProfile, profile_names
from agent.units import Duration

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
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+\Z")]
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
