"""The verdict of ``commune-agent check`` on synthetic points (the netns tests cover real faults)."""

from __future__ import annotations

from agent.check import STATUS_TEXT, check_lines, render_table
from agent.diagnose import EXIT_CODES, diagnose
from agent.probes.base import CheckLine, clean_fields, result_fields
from agent.wire import Point


def pt(m: str, result: str, tags: dict[str, str], **fields: object) -> Point:
    return Point(m=m, t=1, tg=tags, f=clean_fields({**fields, **result_fields(result, "" if result == "ok" else "x")}))  # type: ignore[arg-type]


GW_OK = pt("ping", "ok", {"target": "10.0.0.1", "name": "gateway", "role": "gateway"}, loss_percent=0.0)
GW_NOROUTE = pt("ping", "no_route", {"target": "gateway", "name": "gateway", "role": "gateway"}, loss_percent=100.0)
GW_DOWN = pt("ping", "unreachable", {"target": "10.0.0.1", "name": "gateway", "role": "gateway"}, loss_percent=100.0)
PUB_OK = pt("ping", "ok", {"target": "1.1.1.1", "name": "public", "role": "public"}, loss_percent=0.0)
PUB_LOSSY = pt("ping", "ok", {"target": "1.1.1.1", "name": "public", "role": "public"}, loss_percent=40.0,
               rtt_median_ms=20.0)
PUB_DOWN = pt("ping", "unreachable", {"target": "1.1.1.1", "name": "public", "role": "public"}, loss_percent=100.0)
DNS_OK = pt("dns", "ok", {"resolver": "system", "role": "system", "query": "dvc.gov.vn"}, lookup_ms=3.0)
DNS_TIMEOUT = pt("dns", "timeout", {"resolver": "system", "role": "system", "query": "dvc.gov.vn"})
ISP_DNS_TIMEOUT = pt("dns", "timeout", {"resolver": "203.0.113.1", "role": "isp", "query": "dvc.gov.vn"})


def http(name: str, result: str, **f: object) -> Point:
    return pt("http", result, {"service": name, "label": name, "url": f"https://{name}/"}, **{"total_ms": 100.0, **f})


def verdict(results: dict[str, list[Point]], extra: list[CheckLine] | None = None) -> tuple[str, int, str]:
    lines = check_lines(results) + (extra or [])
    v = diagnose(results, lines)
    table = render_table(lines).splitlines()
    assert table[0].split() == ["Mục", "Đối", "tượng", "Kết", "quả", "Chi", "tiết"]
    assert len(table) == 2 + len(lines)
    for row, ln in zip(table[2:], lines, strict=True):  # one row per line, in order, with every column
        assert row.startswith(ln.section) and ln.target in row and STATUS_TEXT.get(ln.status, ln.status) in row
        assert row.endswith(ln.text)
    return v.code, v.exit_code, v.text


def test_all_fine() -> None:
    code, rc, text = verdict({"ping": [GW_OK, PUB_OK], "dns": [DNS_OK], "http": [http("dvc", "ok")]})
    assert (code, rc) == ("ok", 0)
    assert text.startswith("Mọi thứ bình thường")


def test_no_default_route_is_no_network() -> None:
    code, rc, text = verdict({"ping": [GW_NOROUTE, PUB_DOWN], "dns": [DNS_TIMEOUT],
                              "http": [http("dvc", "dns_error")]})
    assert (code, rc) == ("no_network", 6)
    assert "Máy tính này không có mạng" in text


def test_gateway_silent_and_nothing_else_is_no_network() -> None:
    code, rc, text = verdict({"ping": [GW_DOWN, PUB_DOWN], "http": [http("dvc", "connect_timeout")]})
    assert (code, rc) == ("no_network", 6)
    assert "Máy tính này không có mạng" in text


def test_gateway_fine_nothing_beyond_is_link_down() -> None:
    code, rc, text = verdict({"ping": [GW_OK, PUB_DOWN], "dns": [DNS_TIMEOUT, ISP_DNS_TIMEOUT],
                              "http": [http("dvc", "dns_error"), http("ip", "connect_timeout")]})
    assert (code, rc) == ("link_down", 5)
    assert "Đường truyền Internet" in text


def test_dns_broken() -> None:
    code, rc, text = verdict({"ping": [GW_OK, PUB_OK], "dns": [DNS_TIMEOUT, ISP_DNS_TIMEOUT],
                              "http": [http("dvc", "dns_error")]})
    assert (code, rc) == ("dns", 4)
    assert "DNS bị lỗi" in text


def test_one_portal_down_rest_fine() -> None:
    code, rc, text = verdict({"ping": [GW_OK, PUB_OK], "dns": [DNS_OK],
                              "http": [http("dvc", "ok"), http("qlvb", "content_mismatch")]})
    assert (code, rc) == ("portal", 3)
    assert "qlvb không truy cập được" in text
    assert "Internet vẫn hoạt động" in text


def test_one_portal_slow() -> None:
    code, _, text = verdict({"ping": [GW_OK, PUB_OK], "http": [http("dvc", "ok", slow=1, total_ms=7000.0)]})
    assert code == "portal"
    assert "dvc chậm (7.0 giây)" in text


def test_gateway_blocking_icmp_is_not_no_network() -> None:
    code, _, _ = verdict({"ping": [GW_DOWN, PUB_OK], "http": [http("dvc", "ok")]})
    assert code == "degraded"


def test_foreign_probe_failures_count() -> None:
    token = CheckLine("Chữ ký số", "Token VNPT-CA", "fail", "Chứng thư số đã hết hạn")
    code, rc, text = verdict({"ping": [GW_OK, PUB_OK], "http": [http("dvc", "ok")]}, [token])
    assert (code, rc) == ("degraded", 1)
    assert text.startswith("Mạng bình thường, nhưng:")
    assert "Chứng thư số đã hết hạn" in text
    # and they are appended to a network verdict too
    code, _, text = verdict({"ping": [GW_OK, PUB_DOWN], "http": [http("dvc", "connect_timeout")]}, [token])
    assert code == "link_down"
    assert "Ngoài ra: Chữ ký số – Token VNPT-CA" in text


def test_packet_loss_is_degraded() -> None:
    code, _, text = verdict({"ping": [GW_OK, PUB_LOSSY]})
    assert code == "degraded"
    assert "Mất 40%" in text


def test_probe_that_crashed_is_reported() -> None:
    meta = Point(m="agent_probe", t=1, tg={"probe": "dns"},
                 f=clean_fields({"duration_ms": 1.0, "points": 0, **result_fields("timeout", "slow")}))  # type: ignore[arg-type]
    code, _, text = verdict({"ping": [GW_OK, PUB_OK], "dns": [meta]})
    assert code == "degraded"
    assert "Bộ kiểm tra dns" in text


def test_exit_codes_distinct() -> None:
    assert len(set(EXIT_CODES.values())) == len(EXIT_CODES)
    assert 2 not in EXIT_CODES.values()
