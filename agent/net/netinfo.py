"""What this machine knows about its own network: default route (gateway, interface), local addresses.

Linux reads ``/proc/net/route``; elsewhere (Windows office PCs) it asks ``route print`` / ``netstat -rn``
with a short timeout. Every function returns ``None``/empty rather than raising: "no default route" is
an answer (this PC has no network), not an error.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DefaultRoute:
    gateway: str  # IPv4 address of the next hop ("" for an on-link default route)
    interface: str
    metric: int = 0


def _hex_ip(value: str) -> str:
    return socket.inet_ntoa(struct.pack("<I", int(value, 16)))


def default_routes_linux(route_file: Path = Path("/proc/net/route")) -> list[DefaultRoute]:
    """Default routes (destination 0.0.0.0/0, interface up), best metric first."""
    try:
        lines = route_file.read_text().splitlines()[1:]
    except OSError:
        return []
    routes = []
    for line in lines:
        cols = line.split()
        if len(cols) < 8:
            continue
        iface, dest, gw, flags, mask = cols[0], cols[1], cols[2], int(cols[3], 16), cols[7]
        if dest != "00000000" or mask != "00000000" or not flags & 0x1:  # RTF_UP
            continue
        gateway = _hex_ip(gw) if flags & 0x2 else ""  # RTF_GATEWAY
        routes.append(DefaultRoute(gateway, iface, int(cols[6])))
    return sorted(routes, key=lambda r: r.metric)


def default_routes() -> list[DefaultRoute]:
    if sys.platform.startswith("linux"):
        return default_routes_linux()
    if sys.platform == "win32":
        from agent.hostos import default_routes_windows

        return default_routes_windows()
    return []


def default_route() -> DefaultRoute | None:
    routes = default_routes()
    return routes[0] if routes else None


def in_prefix(address: str, prefix: str) -> bool:
    """True when ``address`` is inside ``prefix`` (CIDR) or equal to it (plain address)."""
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        return False


def source_address_for(destination: str) -> str:
    """The local address the kernel would use to reach ``destination`` (no packet is sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((destination, 9))
            return str(s.getsockname()[0])
    except OSError:
        return ""
