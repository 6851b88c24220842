"""The one-line answer to "is it us or the portal?", from one round of every probe's points.

Verdicts (most basic fault first; the exit code of ``commune-agent check``):

=============  ====  ==============================================================================
code           exit  meaning
=============  ====  ==============================================================================
ok             0     every check passed
degraded       1     the network works, but something else fails or warns (other probes' failing
                     lines, packet loss, a certificate about to expire)
portal         3     one or more portals are down or slow while the rest of the Internet works
dns            4     addresses answer but names do not resolve (the DNS is broken)
link_down      5     the PC reaches its gateway but nothing beyond it: the site's Internet link is down
no_network     6     this PC has no network (no default route, or not even the gateway answers)
=============  ====  ==============================================================================

(Exit code 2 stays "configuration error".) Probes this module does not know still count: their
failing ``CheckLine``s make an otherwise healthy network ``degraded`` and are appended to any verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.probes.base import CheckLine
from agent.probes.dns import DnsResult
from agent.probes.http import HttpResult
from agent.probes.ping import PingResult
from agent.probes.uplink import UplinkResult
from agent.wire import Point

EXIT_CODES = {"ok": 0, "degraded": 1, "portal": 3, "dns": 4, "link_down": 5, "no_network": 6}
NETWORK_PROBES = frozenset({"ping", "dns", "tcp", "http", "uplink", "traceroute"})
# Resolver answers that prove the resolver was reached (the network works), even if the name failed.
_DNS_REACHED = frozenset({DnsResult.OK, DnsResult.NXDOMAIN, DnsResult.SERVFAIL, DnsResult.REFUSED, DnsResult.NO_ANSWER,
                          DnsResult.BAD_RESPONSE})


@dataclass
class Verdict:
    code: str
    text: str  # Vietnamese, one line
    details: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.code]

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "exit_code": self.exit_code, "text": self.text, "details": self.details}


def _ok(p: Point) -> bool:
    return p.f.get("ok") == 1


def _label(p: Point) -> str:
    return p.tg.get("label") or p.tg.get("service") or p.tg.get("name") or p.tg.get("target", "")


def diagnose(results: dict[str, list[Point]], lines: list[CheckLine]) -> Verdict:
    """``results``: points per probe name (one round); ``lines``: every probe's check lines."""
    pts = [p for name, ps in results.items() if name in NETWORK_PROBES for p in ps]
    ping = [p for p in pts if p.m == "ping"]
    gateway = [p for p in ping if p.tg.get("role") == "gateway"]
    external_ping = [p for p in ping if p.tg.get("role") != "gateway"]
    dns = [p for p in pts if p.m == "dns"]
    dns_system = [p for p in dns if p.tg.get("role") == "system"]
    dns_direct = [p for p in dns if p.tg.get("role") != "system"]
    tcp = [p for p in pts if p.m == "tcp"]
    http = [p for p in pts if p.m == "http"]
    uplink = [p for p in pts if p.m == "uplink"]

    foreign = [ln for ln in lines if ln.status == "fail" and ln.section not in ("Mạng", "Cổng dịch vụ")]
    foreign_text = [f"{ln.section} – {ln.target}: {ln.text}".rstrip(": .") for ln in foreign]

    def verdict(code: str, text: str, details: list[str]) -> Verdict:
        if foreign_text and code != "degraded":
            text += " Ngoài ra: " + "; ".join(foreign_text) + "."
        return Verdict(code, text, details + foreign_text)

    # What proves that packets leave the site: any external target answering at IP level.
    ip_reach = [p for p in external_ping + tcp if _ok(p)]
    ip_reach += [p for p in dns_direct if p.f.get("result") in _DNS_REACHED]
    ip_reach += [p for p in http if _ok(p) or p.f.get("result") in (HttpResult.HTTP_STATUS, HttpResult.CONTENT_MISMATCH)]
    ip_reach += [p for p in uplink if _ok(p) and p.f.get("public_ip")]
    external_checks = external_ping + tcp + dns_direct + http
    no_route = any(p.f.get("result") in (PingResult.NO_ROUTE, UplinkResult.NO_ROUTE) for p in gateway + uplink)
    gateway_down = bool(gateway) and not any(_ok(p) for p in gateway)

    if no_route:
        return verdict("no_network", "Máy tính này không có mạng: không có đường mạng mặc định. "
                       "Kiểm tra dây mạng hoặc Wi-Fi của máy, rồi thử lại.",
                       [f"ping cổng mạng: {PingResult.NO_ROUTE}"])
    if gateway_down and not ip_reach:
        gw = gateway[0].tg.get("target", "")
        return verdict("no_network", f"Máy tính này không có mạng: không liên lạc được với cổng mạng {gw}. "
                       "Kiểm tra dây mạng, Wi-Fi, bộ chuyển mạch và modem/router của điểm cầu.",
                       [f"ping {gw}: {gateway[0].f.get('result')}"])
    if external_checks and not ip_reach:
        details = [f"{p.m} {_label(p)}: {p.f.get('result')}" for p in external_checks if not _ok(p)]
        return verdict("link_down", "Đường truyền Internet của điểm cầu bị mất: máy vẫn tới được cổng mạng "
                       "nhưng không ra được Internet. Kiểm tra modem/router và gọi tổng đài nhà mạng.", details)

    dns_failed = [p for p in dns if not _ok(p)]
    http_dns = [p for p in http if p.f.get("result") == HttpResult.DNS_ERROR]
    dns_broken = (
        (dns_system and all(not _ok(p) for p in dns_system))
        or (dns and all(not _ok(p) for p in dns))
        or (http and len(http_dns) == len(http))
    )
    if dns_broken:
        details = [f"dns {p.tg.get('resolver_name', '')} → {p.tg.get('query', '')}: {p.f.get('result')}"
                   for p in dns_failed] + [f"http {_label(p)}: {HttpResult.DNS_ERROR}" for p in http_dns]
        return verdict("dns", "DNS bị lỗi: mạng vẫn thông nhưng không phân giải được tên miền. "
                       "Kiểm tra cấu hình DNS của máy/router hoặc báo nhà mạng.", details)

    http_fail = [p for p in http if not _ok(p)]
    http_slow = [p for p in http if _ok(p) and p.f.get("slow") == 1]
    if http_fail or http_slow:
        parts = [f"{_label(p)} không truy cập được ({p.f.get('result')})" for p in http_fail]
        parts += [f"{_label(p)} chậm ({float(p.f.get('total_ms', 0.0)) / 1000:.1f} giây)" for p in http_slow]
        text = ("Cổng dịch vụ có sự cố: " + "; ".join(parts) + ", trong khi Internet vẫn hoạt động bình thường: "
                "lỗi nằm ở phía cổng, không phải ở mạng của xã.")
        return verdict("portal", text, [f"http {_label(p)}: {p.f.get('result')} {p.f.get('reason', '')}".strip()
                                        for p in http_fail + http_slow])

    problems = [ln for ln in lines if ln.status in ("fail", "warn")]
    if problems:
        listed = "; ".join(f"{ln.section} – {ln.target}: {ln.text}".rstrip(": .") for ln in problems)
        return Verdict("degraded", f"Mạng bình thường, nhưng: {listed}.",
                       [f"{ln.section} – {ln.target}: {ln.status}" for ln in problems])
    return Verdict("ok", "Mọi thứ bình thường: máy, đường truyền và các cổng dịch vụ đều hoạt động tốt.", [])
