"""Explicit registry of probes: name -> probe class (each class carries its Config).

The registry names each probe's module and class; a probe's module is imported the first time its class is
looked up (``REGISTRY[name]``, ``.get``, ``.values()``), so an agent loads only the probes its config enables
(start-up time and resident memory; the heavy libraries are imported later still, when a probe first runs).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from agent.probes.base import Probe, ProbeConfig

_CLASSES: dict[str, tuple[str, str]] = {
    "host": ("agent.probes.host", "HostProbe"),
    "ping": ("agent.probes.ping", "PingProbe"),
    "http": ("agent.probes.http", "HttpProbe"),
    "synthetic": ("agent.probes.synthetic", "SyntheticProbe"),
    "token": ("agent.probes.token", "TokenProbe"),
    "clock": ("agent.probes.clock", "ClockProbe"),
    "dns": ("agent.probes.dns", "DnsProbe"),
    "tcp": ("agent.probes.tcp", "TcpProbe"),
    "uplink": ("agent.probes.uplink", "UplinkProbe"),
    "traceroute": ("agent.probes.traceroute", "TracerouteProbe"),
    "snmp": ("agent.probes.snmp", "SnmpProbe"),
    "lan": ("agent.probes.lan", "LanProbe"),
}


class ProbeRegistry(Mapping[str, type[Probe[ProbeConfig]]]):
    """A read-only mapping that imports a probe's module on first lookup."""

    def __init__(self, classes: dict[str, tuple[str, str]]) -> None:
        self._classes = classes
        self._loaded: dict[str, type[Probe[ProbeConfig]]] = {}

    def __getitem__(self, name: str) -> type[Probe[ProbeConfig]]:
        cls = self._loaded.get(name)
        if cls is None:
            module, attr = self._classes[name]  # KeyError for an unknown probe, as a dict would raise
            cls = self._loaded[name] = getattr(importlib.import_module(module), attr)
        return cls

    def __iter__(self) -> Iterator[str]:
        return iter(self._classes)

    def __len__(self) -> int:
        return len(self._classes)

    def __contains__(self, name: object) -> bool:
        return name in self._classes


REGISTRY: Mapping[str, type[Probe[ProbeConfig]]] = ProbeRegistry(_CLASSES)

__all__ = ["REGISTRY", "Probe", "ProbeConfig", "ProbeRegistry"]
