"""uplink: which Internet link this site uses now (where it has two, e.g. VNPT and Viettel) and its
public IP address.

The link is found from the default route: its gateway (or interface) is looked up in the configured
``links`` map (gateway addresses, prefixes, interface names); when ``echo_urls`` are set, the public
address one of them returns (a plain-text IP, like ``https://api.ipify.org``) is also matched against
each link's ``public_prefixes``.

Measurement ``uplink`` (tags ``link`` = link name, ``unknown`` or ``none``; ``interface``; ``gateway``):
public_ip (string), echo_ms (float, ms), links_configured (int), plus result/ok/reason.

Result codes: ok; no_route (no default route: this PC has no network); echo_error (no echo service
answered, the public address is unknown); unknown_link is not a failure (tag ``link=unknown``).
"""

from __future__ import annotations

import asyncio
import ipaddress
from enum import StrEnum
from typing import ClassVar, Final

import msgspec

from agent.net import netinfo
from agent.net.httptiming import RequestSpec, Response, TimedHTTP
from agent.probes.base import CheckLine, Probe, ProbeConfig, ProbeFailure, result_fields
from agent.units import Duration
from agent.wire import Point
from agent.wire.spec import RESULT_FIELDS, MeasurementSpec, float_field, int_field, measurement, str_field
from common.tls import client_context


class UplinkResult(StrEnum):
    OK = "ok"
    NO_ROUTE = "no_route"
    """No default route: this PC has no network."""
    ECHO_ERROR = "echo_error"
    """No echo service answered: the public address is unknown."""

class Link(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str
    gateways: list[str] = msgspec.field(default_factory=list)
    """Gateway addresses or prefixes (CIDR) that mean this link is the default route."""
    interfaces: list[str] = msgspec.field(default_factory=list)
    public_prefixes: list[str] = msgspec.field(default_factory=list)
    """The ISP's public address ranges: a public IP inside one of them means this link."""


class UplinkConfig(ProbeConfig, kw_only=True):
    interval: Duration = Duration(300)
    timeout: Duration = Duration(20)
    links: list[Link] = msgspec.field(default_factory=list)
    echo_urls: list[str] = msgspec.field(default_factory=list)
    echo_timeout: Duration = Duration(5)
    ca_file: str = ""


def match_link(links: list[Link], gateway: str, interface: str, public_ip: str = "") -> str:
    for link in links:
        if gateway and any(netinfo.in_prefix(gateway, g) for g in link.gateways):
            return link.name
        if interface and interface in link.interfaces:
            return link.name
        if public_ip and any(netinfo.in_prefix(public_ip, p) for p in link.public_prefixes):
            return link.name
    return "unknown"


MEASUREMENTS: Final = (
    measurement("uplink", "uplink", {"link": "link name, unknown or none", "interface": "interface of the default route",
                                     "gateway": "default gateway"}, {
        "public_ip": str_field("public address the echo service saw", max_length=64),
        "echo_ms": float_field("ms", "total time of the echo request"),
        "links_configured": int_field("count"),
        **RESULT_FIELDS,
    }),
)


class UplinkProbe(Probe[UplinkConfig]):
    name: ClassVar[str] = "uplink"
    results: ClassVar[type[StrEnum] | None] = UplinkResult
    Config: ClassVar[type[ProbeConfig]] = UplinkConfig
    measurements: ClassVar[tuple[MeasurementSpec, ...]] = MEASUREMENTS

    async def collect(self) -> list[Point]:
        ts = self.ctx.clock_ns()
        route = netinfo.default_route()
        if route is None:
            return [self.point("uplink", {"links_configured": len(self.config.links),
                                          **result_fields(UplinkResult.NO_ROUTE, "no default route")}, {"link": "none"}, ts)]
        public_ip, echo_ms, error = "", None, ""
        for url in self.config.echo_urls:
            public_ip, echo_ms, error = await self._echo(url)
            if public_ip:
                break
        link = match_link(self.config.links, route.gateway, route.interface, public_ip)
        fields: dict[str, float | int | str | bool | None] = {
            "public_ip": public_ip or None, "echo_ms": echo_ms, "links_configured": len(self.config.links)}
        if self.config.echo_urls and not public_ip:
            fields.update(result_fields(UplinkResult.ECHO_ERROR, error or "no echo service answered"))
        else:
            fields.update(result_fields(UplinkResult.OK))
        return [self.point("uplink", fields, {"link": link, "interface": route.interface, "gateway": route.gateway}, ts)]

    async def _echo(self, url: str) -> tuple[str, float | None, str]:
        resp = Response()
        spec = RequestSpec(url=url, max_body_bytes=256,
                           ssl_context=client_context(self.config.ca_file or None))
        try:
            async with asyncio.timeout(float(self.config.echo_timeout)):
                await TimedHTTP().request(spec, resp)
        except ProbeFailure as exc:
            return "", None, f"{url}: {exc.reason}"
        except (TimeoutError, OSError, ValueError, asyncio.IncompleteReadError) as exc:
            return "", None, f"{url}: {type(exc).__name__} {exc}"
        text = resp.body.decode("ascii", errors="replace").strip()
        try:
            return str(ipaddress.ip_address(text)), resp.total_ms, ""
        except ValueError:
            return "", None, f"{url}: answer is not an IP address (HTTP {resp.status})"

    @classmethod
    def check_lines(cls, points: list[Point]) -> list[CheckLine]:
        out = []
        for p in points:
            if p.m != "uplink":
                continue
            link = p.tg.get("link", "none")
            label = "không xác định" if link == "unknown" else link
            ip = p.f.get("public_ip")
            if p.f.get("result") == UplinkResult.NO_ROUTE:
                out.append(CheckLine("Mạng", "Đường truyền", "fail", "Máy tính không có đường ra mạng."))
            elif p.f.get("ok") != 1:
                out.append(CheckLine("Mạng", f"Đường truyền {label}", "warn",
                                     "Chưa biết địa chỉ Internet của điểm cầu: dịch vụ tra địa chỉ không trả lời."))
            else:
                extra = f", địa chỉ Internet {ip}" if ip else ""
                out.append(CheckLine("Mạng", f"Đường truyền {label}", "ok",
                                     f"Đang dùng {label} qua {p.tg.get('gateway', '')}{extra}."))
        return out
