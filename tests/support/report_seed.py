"""A month (October 2026) whose outages are known to the minute, written to a real InfluxDB.

Office hours 07:30–11:30 and 13:30–17:00 on weekdays; 2026-10-20 is declared a holiday; a maintenance
window 2026-10-09 08:00–10:00 is declared (the main site of Việt Trì is down inside it, which must not count).
One point per minute (second 0) during office intervals — enough for the 1-minute buckets the report uses.

- 07900 Phường Việt Trì, site tru-so-chinh: down 07:30–11:30 and 13:30–15:30 (6 office hours) on
  Oct 6, 7, 8; three resolved commune alerts of 6 h; router rebooted twice; tokens: one certificate expiring
  2026-11-10, one valid to 2027.
- 07894 Phường Nông Trang: no agent Oct 12–18 (5 office days without data).
- 07909 Phường Thanh Miếu: two inventory sites, one never reports; uplink saturated 90 min; its only token
  holds an expired certificate.
- Portal ``dichvucong`` down across the province Oct 14 14:00–16:00 (Nông Trang has no agent then); one
  province-scope alert of 2 h.
"""

from __future__ import annotations

import datetime as dt
import urllib.request
from zoneinfo import ZoneInfo

VN = ZoneInfo("Asia/Ho_Chi_Minh")
YEAR, MONTH = 2026, 10
HOLIDAY = dt.date(2026, 10, 20)
MAINTENANCE = "2026-10-09T08:00/2026-10-09T10:00"
A, B, C = "07900", "07894", "07909"
FLEET = {
    "agents": {
        "vt-main": {"commune": A, "site": "tru-so-chinh"},
        "vt-1cua": {"commune": A, "site": "mot-cua"},
        "nt-main": {"commune": B, "site": "tru-so-chinh"},
        "tm-main": {"commune": C, "site": "tru-so-chinh"},
        "tm-nvh": {"commune": C, "site": "nha-van-hoa"},
    }
}
SESSIONS = ((dt.time(7, 30), dt.time(11, 30)), (dt.time(13, 30), dt.time(17, 0)))


def _local(day: int, h: int, m: int = 0) -> dt.datetime:
    return dt.datetime(YEAR, MONTH, day, h, m, tzinfo=VN)


def office_minutes() -> list[dt.datetime]:
    out = []
    for day in range(1, 32):
        d = dt.date(YEAR, MONTH, day)
        if d.weekday() >= 5 or d == HOLIDAY:
            continue
        for a, b in SESSIONS:
            t = dt.datetime.combine(d, a, VN)
            while t < dt.datetime.combine(d, b, VN):
                out.append(t)
                t += dt.timedelta(minutes=1)
    return out


def _ns(t: dt.datetime) -> int:
    return int(t.timestamp()) * 1_000_000_000


def _tags(commune: str, site: str, agent: str) -> str:
    return f"province=25,commune={commune},site={site},agent={agent}"


def a_main_down(t: dt.datetime) -> bool:
    if t.day in (6, 7, 8):
        return (t.hour, t.minute) < (11, 30) or (13, 30) <= (t.hour, t.minute) < (15, 30)
    return _local(9, 8) <= t < _local(9, 10)  # inside the maintenance window


def b_silent(t: dt.datetime) -> bool:
    return 12 <= t.day <= 18


def portal_down(t: dt.datetime) -> bool:
    return _local(14, 14) <= t < _local(14, 16)


def http_ms(t: dt.datetime) -> float:
    return 100.0 + 10.0 * (t.minute % 20)


def lines() -> list[str]:
    out: list[str] = []
    sites = [(A, "tru-so-chinh", "vt-main"), (A, "mot-cua", "vt-1cua"), (B, "tru-so-chinh", "nt-main"),
             (C, "tru-so-chinh", "tm-main")]
    for t in office_minutes():
        ns = _ns(t)
        for commune, site, agent in sites:
            if commune == B and b_silent(t):
                continue
            tg = _tags(commune, site, agent)
            ok = 0 if (agent == "vt-main" and a_main_down(t)) else 1
            loss = 100.0 if not ok else 0.0
            rtt = "" if not ok else ",rtt_avg_ms=20.0"
            out.append(f"ping,{tg},target=203.162.4.191,name=vnpt-dns,role=isp_dns ok={ok}i,loss_percent={loss}{rtt} {ns}")
            out.append(f"ping,{tg},target=10.0.0.1,name=gw,role=gateway ok=1i,loss_percent=0.0,rtt_avg_ms=1.0 {ns}")
            if site == "tru-so-chinh":
                if portal_down(t) or not ok:
                    out.append(f"http,{tg},service=dichvucong ok=0i {ns}")
                else:
                    out.append(f"http,{tg},service=dichvucong ok=1i,total_ms={http_ms(t)} {ns}")
            if t.hour == 8 and t.minute == 0:
                out.append(f"agent,{tg} connected=1i,queue_depth=0i {ns}")
    # router: two reboots at Việt Trì, 90 saturated minutes at Thanh Miếu
    out.append(f"snmp_device,{_tags(A, 'tru-so-chinh', 'vt-main')},device=router rebooted=1i {_ns(_local(6, 7, 31))}")
    out.append(f"snmp_device,{_tags(A, 'tru-so-chinh', 'vt-main')},device=router rebooted=1i {_ns(_local(8, 13, 31))}")
    for i in range(90):
        out.append(f"snmp_device,{_tags(C, 'tru-so-chinh', 'tm-main')},device=router uplink_saturated=1i,rebooted=0i "
                   f"{_ns(_local(21, 9) + dt.timedelta(minutes=i))}")
    out.append(f"snmp_device,{_tags(C, 'tru-so-chinh', 'tm-main')},device=router uplink_saturated=0i,rebooted=0i "
               f"{_ns(_local(21, 10, 30))}")
    # tokens
    ts = _ns(_local(5, 9))
    exp_next = int(_local_next(10, 10).timestamp())
    for tok, serial, na in (("tok-a1", "01", exp_next), ("tok-a2", "02", int(dt.datetime(2027, 6, 1, tzinfo=VN).timestamp()))):
        out.append(f"token,{_tags(A, 'tru-so-chinh', 'vt-main')},module=vnpt,token={tok},serial=S{serial} present=1i {ts}")
        out.append(f"token_cert,{_tags(A, 'tru-so-chinh', 'vt-main')},module=vnpt,token={tok},serial={serial},"
                   f"subject=Nguyễn\\ Văn\\ An,issuer=VNPT-CA not_after={na}i,can_sign=1i,expired=0i {ts}")
    out.append(f"token,{_tags(C, 'tru-so-chinh', 'tm-main')},module=vnpt,token=tok-c1,serial=S03 present=1i {ts}")
    out.append(f"token_cert,{_tags(C, 'tru-so-chinh', 'tm-main')},module=vnpt,token=tok-c1,serial=03,subject=Lê\\ Thị\\ Bình,"
               f"issuer=VNPT-CA not_after={int(_local(3, 0).timestamp())}i,can_sign=1i,expired=1i {ts}")
    # alert history (measurement ``alerts``, docs/report.md)
    for day in (6, 7, 8):
        end = _local(day, 15, 30)
        out.append(f"alerts,province=25,commune={A},site=tru-so-chinh,alertname=SiteDown,severity=critical,scope=commune "
                   f"duration_s=21600.0,started_at={int(_local(day, 7, 30).timestamp())}i {_ns(end)}")
    out.append(f"alerts,province=25,alertname=PortalDown,service=dichvucong,severity=critical,scope=province "
               f"duration_s=7200.0,started_at={int(_local(14, 14).timestamp())}i,communes=2i {_ns(_local(14, 16))}")
    return out


def _local_next(day: int, h: int) -> dt.datetime:
    return dt.datetime(YEAR, MONTH + 1, day, h, tzinfo=VN)


def seed(url: str, db: str, rp: str = "") -> int:
    body = lines()
    for i in range(0, len(body), 5000):
        q = f"{url}/write?db={db}&precision=ns" + (f"&rp={rp}" if rp else "")
        req = urllib.request.Request(q, data="\n".join(body[i:i + 5000]).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 204
    return len(body)
