"""Explicit registry of probes: name -> probe class (each class carries its Config)."""

from __future__ import annotations

from agent.probes.base import Probe, ProbeConfig
from agent.probes.clock import ClockProbe
from agent.probes.dns import DnsProbe
from agent.probes.host import HostProbe
from agent.probes.http import HttpProbe
from agent.probes.lan import LanProbe
from agent.probes.ping import PingProbe
from agent.probes.snmp import SnmpProbe
from agent.probes.synthetic import SyntheticProbe
from agent.probes.tcp import TcpProbe
from agent.probes.token import TokenProbe
from agent.probes.traceroute import TracerouteProbe
from agent.probes.uplink import UplinkProbe

REGISTRY: dict[str, type[Probe[ProbeConfig]]] = {
    "host": HostProbe,  # type: ignore[dict-item]
    "ping": PingProbe,  # type: ignore[dict-item]
    "http": HttpProbe,  # type: ignore[dict-item]
    "synthetic": SyntheticProbe,  # type: ignore[dict-item]
    "token": TokenProbe,  # type: ignore[dict-item]
    "clock": ClockProbe,  # type: ignore[dict-item]
    "dns": DnsProbe,  # type: ignore[dict-item]
    "tcp": TcpProbe,  # type: ignore[dict-item]
    "uplink": UplinkProbe,  # type: ignore[dict-item]
    "traceroute": TracerouteProbe,  # type: ignore[dict-item]
    "snmp": SnmpProbe,  # type: ignore[dict-item]
    "lan": LanProbe,  # type: ignore[dict-item]
}

__all__ = ["REGISTRY", "Probe", "ProbeConfig"]
