"""Explicit registry of probes: name -> probe class (each class carries its Config)."""

from __future__ import annotations

from agent.probes.base import Probe, ProbeConfig
from agent.probes.host import HostProbe
from agent.probes.http import HttpProbe
from agent.probes.lan import LanProbe
from agent.probes.ping import PingProbe
from agent.probes.snmp import SnmpProbe

REGISTRY: dict[str, type[Probe[ProbeConfig]]] = {
    "host": HostProbe,  # type: ignore[dict-item]
    "ping": PingProbe,  # type: ignore[dict-item]
    "http": HttpProbe,  # type: ignore[dict-item]
    "snmp": SnmpProbe,  # type: ignore[dict-item]
    "lan": LanProbe,  # type: ignore[dict-item]
}

__all__ = ["REGISTRY", "Probe", "ProbeConfig"]
