"""The verdict of ``commune-agent check``: "is it our PC, our link, or the portal?", from one round of points.

The verdict is a small decision table (docs/check.md has the same table; tests/agent/test_diagnose.py
has a test per row). Rows are tried in order; the first whose condition holds decides. The evidence:

- *local*: a target on this PC itself (127.0.0.0/8, ::1, ``localhost``): it proves nothing about the
  network, so a loopback ping never makes "the Internet works";
- *reach*: an outside target answering at IP level (ping, TCP, a resolver answering even with an error,
  a portal answering even with an error page, the public-address echo);
- *trace*: where traceroute says the path stops (in the LAN, at the ISP's first hop, beyond the ISP).

====  ============  ====  ==========================================================================
row   code          exit  condition
====  ============  ====  ==========================================================================
1     no_network    6     no default route (ping's gateway, uplink or traceroute says so)
2     no_network    6     the gateway is silent and no outside target answers
3     inconclusive  7     traceroute says the path stops in the LAN or at the ISP, yet an outside
                          target answers: the lines disagree, nothing is concluded
4     link_down     5     outside targets are configured and none answers
5     inconclusive  7     no outside target is configured and some line fails or warns: only this PC
                          was checked, so nothing is said about the Internet
6     dns           4     an outside target answers, but names do not resolve (the PC's resolver, or
                          every resolver, or every portal failing with dns_error)
7     portal        3     an outside portal fails or is slow while another outside target answers
8     degraded      1     the network answers, but some line fails or warns (packet loss, a token, a
                          device, the PC's disk...), or a portal fails and nothing else proves the
                          Internet works
9     ok            0     every line is fine (the text says so when no outside target was checked)
====  ============  ====  ==========================================================================

The conclusion is at most three short sentences; the details stay in the table above it.
(Exit code 2 stays "configuration error".)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from agent.probes.base import CheckLine
from agent.probes.dns import DnsResult
from agent.probes.http import HttpResult
from agent.probes.ping import LOSS_WARN_PERCENT, PingResult
from agent.probes.traceroute import TracerouteResult
from agent.probes.uplink import UplinkResult
from agent.wire import Point

EXIT_CODES = {"ok": 0, "degraded": 1, "portal": 3, "dns": 4, "link_down": 5, "no_network": 6, "inconclusive": 7}
NETWORK_PROBES = frozenset({"ping", "dns", "tcp", "http", "uplink", "traceroute"})
NETWORK_SECTIONS = frozenset({"Mạng", "Cổng dịch vụ"})
# Resolver answers that prove the resolver was reached (the network works), even if the name failed.
_DNS_REACHED = frozenset({DnsResult.OK, DnsResult.NXDOMAIN, DnsResult.SERVFAIL, DnsResult.REFUSED, DnsResult.NO_ANSWER,
                          DnsResult.BAD_RESPONSE})
_NO_ROUTE = frozenset({PingResult.NO_ROUTE, UplinkResult.NO_ROUTE, TracerouteResult.NO_ROUTE})
_TRACE_BLAMES: dict[str, str] = {TracerouteResult.STOPPED_LAN: "mạng nội bộ", TracerouteResult.STOPPED_FIRST_ISP_HOP: "nhà mạng"}


@dataclass
class Verdict:
    code: str
    text: str  # Vietnamese, at most three short sentences
    details: list[str] = field(default_factory=list)
    row: int = 0  # the decision-table row that decided

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.code]

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "exit_code": self.exit_code, "row": self.row, "text": self.text,
                "details": self.details}


def _ok(p: Point) -> bool:
    return p.f.get("ok") == 1


def _host(p: Point) -> str:
    if p.m == "http":
        return urlsplit(p.tg.get("url", "")).hostname or ""
    if p.m == "dns":
        return p.tg.get("resolver", "")
    if p.m == "tcp":
        return p.tg.get("target", "").rsplit(":", 1)[0].strip("[]")
    return p.tg.get("target", "")


def is_local(p: Point) -> bool:
    """A target on this PC itself: its answer says nothing about the network."""
    host = _host(p).lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Evidence:
    """What one round of points proves, sorted by the decision table's questions."""

    results: dict[str, list[Point]]
    names: Mapping[str, str]

    def __post_init__(self) -> None:
        pts = [p for name, ps in self.results.items() if name in NETWORK_PROBES for p in ps]
        self.gateway = [p for p in pts if p.m == "ping" and p.tg.get("role") == "gateway"]
        outside = [p for p in pts if p not in self.gateway and not is_local(p)]
        self.ping = [p for p in outside if p.m == "ping"]
        self.tcp = [p for p in outside if p.m == "tcp"]
        self.dns = [p for p in pts if p.m == "dns" and (p.tg.get("role") == "system" or not is_local(p))]
        self.dns_system = [p for p in self.dns if p.tg.get("role") == "system"]
        self.dns_direct = [p for p in self.dns if p.tg.get("role") != "system"]
        self.http = [p for p in outside if p.m == "http"]
        self.uplink = [p for p in pts if p.m == "uplink"]
        self.trace = [p for p in pts if p.m == "traceroute"]
        self.no_route = any(p.f.get("result") in _NO_ROUTE for p in self.gateway + self.uplink + self.trace)
        self.gateway_down = bool(self.gateway) and not any(_ok(p) for p in self.gateway)
        self.reach = [p for p in self.ping + self.tcp if _ok(p)]
        self.reach += [p for p in self.dns_direct if p.f.get("result") in _DNS_REACHED]
        self.reach += [p for p in self.http
                       if _ok(p) or p.f.get("result") in (HttpResult.HTTP_STATUS, HttpResult.CONTENT_MISMATCH)]
        self.reach += [p for p in self.uplink if _ok(p) and p.f.get("public_ip")]
        self.reach += [p for p in self.trace if _ok(p)]
        self.lossy = [p for p in self.ping if _ok(p) and float(p.f.get("loss_percent", 0.0)) >= LOSS_WARN_PERCENT]
        self.outside_checks = self.ping + self.tcp + self.dns_direct + self.http + self.trace
        self.blame = next((_TRACE_BLAMES[r] for p in self.trace
                           if (r := p.f.get("result")) in _TRACE_BLAMES), "")

    def label(self, p: Point) -> str:
        if p.m == "dns":
            return f"DNS {p.tg.get('resolver_name') or p.tg.get('resolver', '')}".strip()
        name = p.tg.get("service") or p.tg.get("name") or p.tg.get("target") or p.tg.get("link") or p.m
        return self.names.get(name, name)


def diagnose(results: dict[str, list[Point]], lines: list[CheckLine], names: Mapping[str, str] | None = None) -> Verdict:
    """``results``: points per probe name (one round); ``lines``: every check line (the table above the
    verdict); ``names``: display names of portals by configured name."""
    ev = Evidence(results, names or {})
    problems = [ln for ln in lines if ln.status in ("fail", "warn")]
    others = [ln for ln in problems if ln.section not in NETWORK_SECTIONS]
    also = f" Ngoài ra có {len(others)} mục khác cần xem trong bảng." if others else ""

    def verdict(row: int, code: str, text: str, details: list[str] | None = None) -> Verdict:
        extra = also if code not in ("degraded", "inconclusive") else ""
        return Verdict(code, text + extra, (details or []) + [f"{ln.section} – {ln.target}: {ln.status}" for ln in others],
                       row)

    # 1-2: this PC has no network
    if ev.no_route:
        return verdict(1, "no_network", "Máy tính này không có mạng: máy không có đường ra mạng. "
                       "Kiểm tra dây mạng hoặc Wi-Fi của máy.")
    if ev.gateway_down and not ev.reach:
        gw = ev.gateway[0].tg.get("target", "")
        return verdict(2, "no_network", f"Máy tính này không có mạng: cổng mạng {gw} của điểm cầu không trả lời. "
                       "Kiểm tra dây mạng, Wi-Fi, bộ chia mạng và modem.")
    # 3: the lines disagree
    if ev.blame and ev.reach:
        answered = list(dict.fromkeys(ev.label(p) for p in ev.reach))
        who = ", ".join(answered[:3]) + (f" và {len(answered) - 3} mục khác" if len(answered) > 3 else "")
        return verdict(3, "inconclusive", f"Kết quả chưa thống nhất: dò đường báo lỗi ở {ev.blame}, nhưng {who} "
                       "vẫn trả lời. Chạy lại kiểm tra sau vài phút; nếu vẫn vậy, báo đội ứng cứu của tỉnh.")
    # 4: the site's Internet link
    if ev.outside_checks and not ev.reach:
        where = "máy vẫn tới được cổng mạng nhưng" if ev.gateway and not ev.gateway_down else "máy"
        cause = ", lỗi ở phía nhà mạng" if ev.blame == "nhà mạng" else ""
        return verdict(4, "link_down", f"Đường truyền Internet của điểm cầu bị mất{cause}: {where} không ra được "
                       "Internet. Kiểm tra modem và gọi tổng đài nhà mạng.")
    # 5: nothing outside this PC was checked
    if not ev.outside_checks and not ev.reach and problems:
        return verdict(5, "inconclusive", f"Chưa đủ thông tin để kết luận về Internet: cấu hình chỉ kiểm tra chính "
                       f"máy này. Có {len(problems)} mục bị lỗi hoặc cần xem trong bảng trên.")
    # 6: names do not resolve
    http_dns = [p for p in ev.http if p.f.get("result") == HttpResult.DNS_ERROR]
    if ev.reach and (
        (ev.dns_system and not any(_ok(p) for p in ev.dns_system))
        or (ev.dns and not any(_ok(p) for p in ev.dns))
        or (ev.http and len(http_dns) == len(ev.http))
    ):
        return verdict(6, "dns", "DNS bị lỗi: mạng vẫn thông nhưng máy không tìm được địa chỉ của các trang web "
                       "theo tên. Kiểm tra cài đặt DNS của máy hoặc modem, hoặc báo nhà mạng.",
                       [f"dns {p.tg.get('resolver_name', '')} → {p.tg.get('query', '')}: {p.f.get('result')}"
                        for p in ev.dns if not _ok(p)])
    # 7: a portal, while the Internet works
    bad = [p for p in ev.http if not _ok(p) or p.f.get("slow") == 1]
    if bad and any(p not in bad for p in ev.reach):
        parts = [f"{ev.label(p)} {'chậm' if _ok(p) else 'không truy cập được'}" for p in bad]
        return verdict(7, "portal", f"Cổng dịch vụ có sự cố: {', '.join(parts)}. Internet vẫn hoạt động bình thường, "
                       "nên lỗi nằm ở phía cổng, không phải ở mạng của xã.",
                       [f"http {ev.label(p)}: {p.f.get('result')}" for p in bad])
    # 8: something else
    if problems:
        first = "Mạng vẫn thông" if ev.reach else "Các kiểm tra trên máy này đều chạy"
        loss = " Mất gói tin trên đường truyền, mạng có thể chậm." if ev.lossy else ""
        return verdict(8, "degraded", f"{first}, nhưng có {len(problems)} mục bị lỗi hoặc cần xem: các dòng LỖI "
                       f"hoặc CẢNH BÁO trong bảng trên.{loss}",
                       [f"{ln.section} – {ln.target}: {ln.status}" for ln in problems if ln.section in NETWORK_SECTIONS])
    # 9: fine
    if not ev.reach:
        return verdict(9, "ok", "Mọi mục đã kiểm tra đều tốt. Cấu hình chưa có địa chỉ Internet nào, nên chưa "
                       "kiểm tra được đường truyền Internet.")
    return verdict(9, "ok", "Mọi thứ bình thường: máy, đường truyền và các cổng dịch vụ đều hoạt động tốt.")
