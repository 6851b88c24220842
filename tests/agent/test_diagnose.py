"""The verdict of ``commune-agent check`` on synthetic points: one test per row of the decision table
(docs/check.md), contradictory evidence, and the plain-Vietnamese rules of the table and the conclusion
(the netns tests cover real faults)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent import diagnose as diagnose_module
from agent.check import STATUS_TEXT, check_lines, render_table
from agent.diagnose import EXIT_CODES, Verdict, diagnose
from agent.probes.base import CheckLine, clean_fields, result_fields
from agent.probes.host import HostProbe
from agent.probes.snmp.probe import SnmpProbe
from agent.wire import Point

ROOT = Path(__file__).resolve().parents[2]


def pt(m: str, result: str, tags: dict[str, str], **fields: object) -> Point:
    return Point(m=m, t=1, tg=tags, f=clean_fields({**fields, **result_fields(result, "" if result == "ok" else "x")}))  # type: ignore[arg-type]


GW_OK = pt("ping", "ok", {"target": "10.0.0.1", "name": "gateway", "role": "gateway"}, loss_percent=0.0,
           rtt_median_ms=0.25)
GW_NOROUTE = pt("ping", "no_route", {"target": "gateway", "name": "gateway", "role": "gateway"}, loss_percent=100.0)
GW_DOWN = pt("ping", "unreachable", {"target": "10.0.0.1", "name": "gateway", "role": "gateway"}, loss_percent=100.0)
PUB_OK = pt("ping", "ok", {"target": "1.1.1.1", "name": "public", "role": "public"}, loss_percent=0.0,
            rtt_median_ms=20.0)
PUB_LOSSY = pt("ping", "ok", {"target": "1.1.1.1", "name": "public", "role": "public"}, loss_percent=40.0,
               rtt_median_ms=20.0)
PUB_DOWN = pt("ping", "unreachable", {"target": "1.1.1.1", "name": "public", "role": "public"}, loss_percent=100.0)
LOOPBACK_OK = pt("ping", "ok", {"target": "127.0.0.1", "name": "loopback", "role": "other"}, loss_percent=0.0,
                 rtt_median_ms=0.2)
DNS_OK = pt("dns", "ok", {"resolver": "system", "role": "system", "query": "dvc.gov.vn"}, lookup_ms=3.0)
DNS_TIMEOUT = pt("dns", "timeout", {"resolver": "system", "role": "system", "query": "dvc.gov.vn"})
ISP_DNS_TIMEOUT = pt("dns", "timeout", {"resolver": "203.0.113.1", "role": "isp", "query": "dvc.gov.vn"})
ISP_DNS_REFUSED = pt("dns", "refused", {"resolver": "203.0.113.1", "role": "isp", "query": "dvc.gov.vn"})
TRACE_ISP = pt("traceroute", "stopped_first_isp_hop", {"target": "1.1.1.1", "name": "internet"})
TRACE_OK = pt("traceroute", "ok", {"target": "1.1.1.1", "name": "internet"})
TOKEN = CheckLine("Chữ ký số", "Token VNPT-CA", "fail", "Chứng thư số đã hết hạn")


def http(name: str, result: str, host: str = "", **f: object) -> Point:
    return pt("http", result, {"service": name, "url": f"https://{host or name + '.gov.vn'}/"},
              **{"total_ms": 100.0, **f})


def run(results: dict[str, list[Point]], extra: list[CheckLine] | None = None,
        names: dict[str, str] | None = None) -> tuple[Verdict, list[CheckLine]]:
    lines = check_lines(results, names) + (extra or [])
    v = diagnose(results, lines, names)
    table = render_table(lines).splitlines()
    assert table[0].split() == ["Mục", "Đối", "tượng", "Kết", "quả", "Chi", "tiết"]
    assert len(table) == 2 + len(lines)
    for row, ln in zip(table[2:], lines, strict=True):  # one row per line, in order, with every column
        assert row.startswith(ln.section) and ln.target in row and STATUS_TEXT.get(ln.status, ln.status) in row
        assert row.endswith(ln.text)
    assert_plain(v, lines)
    return v, lines


def assert_plain(v: Verdict, lines: list[CheckLine]) -> None:
    """The conclusion is short and never contradicts the table; no jargon the clerk cannot read."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", v.text.strip()) if s]
    assert len(sentences) <= 3, v.text
    assert all(len(s) <= 160 for s in sentences), v.text
    for ln in lines:
        assert not re.search(r"\([^()]*\(", ln.target + " " + ln.text), ln  # no nested brackets
        assert "máy đích" not in ln.target
        assert not re.search(r"\([a-z]+_[a-z_]+\)", ln.text), ln  # no result codes such as (connect_refused)
        assert not re.search(r"\d\.\d+ (ms|giây|%)", ln.text), ln  # decimal comma, not point
    table = " ".join(ln.text for ln in lines)
    if "nhà mạng có sự cố" in table or "mạng nội bộ" in table:  # traceroute blames the LAN or the ISP
        assert "mạng vẫn thông" not in v.text and "Internet vẫn hoạt động" not in v.text, v.text


# --- one test per row of the decision table ----------------------------------------------------------------


def test_row_1_no_default_route_is_no_network() -> None:
    v, _ = run({"ping": [GW_NOROUTE, PUB_DOWN], "dns": [DNS_TIMEOUT], "http": [http("dvc", "dns_error")]})
    assert (v.code, v.exit_code, v.row) == ("no_network", 6, 1)
    assert v.text.startswith("Máy tính này không có mạng")


def test_row_2_gateway_silent_and_nothing_else_is_no_network() -> None:
    v, _ = run({"ping": [GW_DOWN, PUB_DOWN], "http": [http("dvc", "connect_timeout")]})
    assert (v.code, v.exit_code, v.row) == ("no_network", 6, 2)
    assert "cổng mạng 10.0.0.1" in v.text


def test_row_3_traceroute_blaming_the_isp_while_a_resolver_answers_is_inconclusive() -> None:
    """The site template on a PC without Internet: traceroute blames the ISP, yet a resolver answers
    (refusing): the verdict must not say "DNS bị lỗi: mạng vẫn thông"."""
    results = {"ping": [GW_OK, PUB_DOWN], "dns": [DNS_TIMEOUT, ISP_DNS_REFUSED], "traceroute": [TRACE_ISP],
               "http": [http("dvc", "dns_error")]}
    v, lines = run(results)
    assert (v.code, v.exit_code, v.row) == ("inconclusive", 7, 3)
    assert any("nhà mạng có sự cố" in ln.text for ln in lines)
    assert "DNS bị lỗi" not in v.text and "mạng vẫn thông" not in v.text
    assert "nhà mạng" in v.text
    assert "nhưng DNS 203.0.113.1 vẫn trả lời" in v.text  # names what answered


def test_row_4_gateway_fine_nothing_beyond_is_link_down() -> None:
    v, _ = run({"ping": [GW_OK, PUB_DOWN], "dns": [DNS_TIMEOUT, ISP_DNS_TIMEOUT],
                "http": [http("dvc", "dns_error"), http("ip", "connect_timeout")]})
    assert (v.code, v.exit_code, v.row) == ("link_down", 5, 4)
    assert "Đường truyền Internet của điểm cầu bị mất" in v.text
    assert "tới được cổng mạng" in v.text


def test_row_4_agrees_with_traceroute_and_claims_nothing_about_an_unchecked_gateway() -> None:
    v, _ = run({"ping": [PUB_DOWN], "traceroute": [TRACE_ISP], "http": [http("dvc", "connect_timeout")]})
    assert (v.code, v.row) == ("link_down", 4)
    assert "lỗi ở phía nhà mạng" in v.text
    assert "cổng mạng" not in v.text  # the gateway was not pinged: the verdict does not claim it answered


def test_row_5_default_config_with_the_stack_down_is_not_the_internet_works() -> None:
    """agent/defaults/agent.yaml: a loopback ping and the local Alertmanager, which is down."""
    v, lines = run({"ping": [LOOPBACK_OK], "http": [http("collector-alertmanager", "connect_refused",
                                                        host="127.0.0.1:19093")]})
    assert (v.code, v.exit_code, v.row) == ("inconclusive", 7, 5)
    assert "Internet vẫn hoạt động" not in v.text and "lỗi nằm ở phía cổng" not in v.text
    assert "Chưa đủ thông tin" in v.text
    assert [ln.target for ln in lines] == ["Máy loopback", "collector-alertmanager"]


def test_row_6_dns_broken() -> None:
    v, _ = run({"ping": [GW_OK, PUB_OK], "dns": [DNS_TIMEOUT, ISP_DNS_TIMEOUT], "http": [http("dvc", "dns_error")]})
    assert (v.code, v.exit_code, v.row) == ("dns", 4, 6)
    assert "DNS bị lỗi" in v.text


def test_row_7_one_portal_down_rest_fine_with_its_display_name() -> None:
    v, lines = run({"ping": [GW_OK, PUB_OK], "dns": [DNS_OK],
                    "http": [http("dvc", "ok"), http("qlvb", "content_mismatch")]},
                   names={"qlvb": "Quản lý văn bản"})
    assert (v.code, v.exit_code, v.row) == ("portal", 3, 7)
    assert "Quản lý văn bản không truy cập được" in v.text
    assert "Internet vẫn hoạt động" in v.text
    assert "Quản lý văn bản" in [ln.target for ln in lines]


def test_row_7_one_portal_slow() -> None:
    v, lines = run({"ping": [GW_OK, PUB_OK], "http": [http("dvc", "ok", slow=1, total_ms=7400.0)]})
    assert (v.code, v.row) == ("portal", 7)
    assert "dvc chậm" in v.text
    assert lines[-1].text == "Truy cập được nhưng chậm: 7,4 giây."


def test_row_8_packet_loss_is_degraded() -> None:
    v, lines = run({"ping": [GW_OK, PUB_LOSSY]})
    assert (v.code, v.exit_code, v.row) == ("degraded", 1, 8)
    assert "Mất gói tin" in v.text
    assert "Mất 40 %" in lines[1].text


def test_row_8_gateway_blocking_icmp_is_not_no_network() -> None:
    v, _ = run({"ping": [GW_DOWN, PUB_OK], "http": [http("dvc", "ok")]})
    assert (v.code, v.row) == ("degraded", 8)


def test_row_8_a_failing_portal_alone_does_not_prove_the_internet_works() -> None:
    v, _ = run({"http": [http("dvc", "content_mismatch")]})  # the portal answered (the network passes), nothing else
    assert (v.code, v.row) == ("degraded", 8)
    assert "Internet vẫn hoạt động" not in v.text


def test_row_8_other_probes_failures_count_and_each_is_its_own_line() -> None:
    tokens = [CheckLine("Chữ ký số", f"Token {i}", "fail", f"Chứng thư số {i} đã hết hạn.") for i in range(6)]
    v, _ = run({"ping": [GW_OK, PUB_OK], "http": [http("dvc", "ok")]}, tokens)
    assert (v.code, v.exit_code, v.row) == ("degraded", 1, 8)
    assert "6 mục" in v.text and "Chứng thư" not in v.text  # the details stay in the table
    # and a network verdict gets one short sentence about them, not their texts
    v, _ = run({"ping": [GW_OK, PUB_DOWN], "http": [http("dvc", "connect_timeout")]}, tokens)
    assert v.code == "link_down"
    assert v.text.endswith("Ngoài ra có 6 mục khác cần xem trong bảng.")
    assert len(v.text) < 300


def test_row_8_probe_that_crashed_is_reported_in_plain_words() -> None:
    meta = Point(m="agent_probe", t=1, tg={"probe": "dns"},
                 f=clean_fields({"duration_ms": 1.0, "points": 0, **result_fields("timeout", "slow")}))  # type: ignore[arg-type]
    v, lines = run({"ping": [GW_OK, PUB_OK], "dns": [meta]})
    assert (v.code, v.row) == ("degraded", 8)
    assert lines[-1].target == "Bộ kiểm tra dns"
    assert "không xong trong thời gian cho phép" in lines[-1].text and "timeout" not in lines[-1].text


def test_row_9_all_fine() -> None:
    v, _ = run({"ping": [GW_OK, PUB_OK], "dns": [DNS_OK], "http": [http("dvc", "ok")], "traceroute": [TRACE_OK]})
    assert (v.code, v.exit_code, v.row) == ("ok", 0, 9)
    assert v.text.startswith("Mọi thứ bình thường")


def test_row_9_all_fine_but_only_this_pc_checked_says_so() -> None:
    v, _ = run({"ping": [LOOPBACK_OK], "http": [http("collector-alertmanager", "ok", host="127.0.0.1:19093")]})
    assert (v.code, v.exit_code, v.row) == ("ok", 0, 9)
    assert "chưa kiểm tra được đường truyền Internet" in v.text


def test_every_row_of_the_documented_table_has_a_test() -> None:
    doc = (ROOT / "docs" / "check.md").read_text(encoding="utf-8")
    documented = {int(m) for m in re.findall(r"^\| (\d+) \| \d+ \| `", doc, re.M)}
    tested = {int(m) for m in re.findall(r"^def test_row_(\d+)_", Path(__file__).read_text(encoding="utf-8"), re.M)}
    assert documented == tested == set(range(1, 10))
    in_code = {int(m) for m in re.findall(r"^(\d+)\s{2,}[a-z_]+\s+\d\s", diagnose_module.__doc__ or "", re.M)}
    assert in_code == documented  # the module's docstring carries the same table


def test_exit_codes_distinct() -> None:
    assert len(set(EXIT_CODES.values())) == len(EXIT_CODES)
    assert 2 not in EXIT_CODES.values()


# --- the table: plain Vietnamese, one problem per line, the PC's health -----------------------------------------


def test_ping_lines_name_the_role_without_brackets() -> None:
    _, lines = run({"ping": [GW_OK, PUB_OK, LOOPBACK_OK]})
    assert [ln.target for ln in lines] == ["Cổng mạng 10.0.0.1", "Địa chỉ Internet public", "Máy loopback"]
    assert lines[0].text == "Trả lời tốt: mất 0 % tín hiệu thử, độ trễ 0,2 ms."  # 0.25 rounds half to even


def test_failure_texts_carry_no_result_codes() -> None:
    _, lines = run({"ping": [GW_OK, PUB_DOWN], "dns": [ISP_DNS_TIMEOUT], "traceroute": [TRACE_ISP],
                    "http": [http("dvc", "connect_refused")]})
    texts = " ".join(ln.text for ln in lines)
    for code in ("unreachable", "timeout", "stopped_first_isp_hop", "connect_refused"):
        assert code not in texts


def test_pc_health_is_in_the_table() -> None:
    host = Point(m="host", t=1, tg={}, f={"cpu_percent": 100.0, "mem_percent": 42.0, "mem_total_bytes": 8 * 1024**3})
    disk = Point(m="host_disk", t=1, tg={"path": "C:\\"}, f={"percent": 98.5, "total_bytes": 256 * 1024**3,
                                                            "used_bytes": 252 * 1024**3, "free_bytes": 4 * 1024**3})
    v, lines = run({"ping": [GW_OK, PUB_OK], "host": [host, disk]})
    pc = {ln.target: ln for ln in lines if ln.section == "Máy tính"}
    assert pc["Bộ xử lý (CPU)"].status == "warn" and "100 %" in pc["Bộ xử lý (CPU)"].text
    assert pc["Bộ nhớ (RAM)"].status == "ok" and pc["Bộ nhớ (RAM)"].text == "Đã dùng 42 % của 8 GB."
    assert pc["Ổ đĩa C:\\"].status == "fail" and "còn trống 4 GB" in pc["Ổ đĩa C:\\"].text
    assert HostProbe.check_lines([host]) == [pc["Bộ xử lý (CPU)"], pc["Bộ nhớ (RAM)"]]
    assert (v.code, v.row) == ("degraded", 8)


@pytest.mark.parametrize(("fields", "expected"), [
    ({"result": "ok", "ok": 1, "rebooted": 1, "uplink_saturated": 1, "uptime_s": 300, "uplink_found": 0},
     ["warn", "warn", "warn"]),
    ({"result": "uplink_down", "ok": 0, "rebooted": 1, "uptime_s": 7300}, ["fail", "warn"]),
])
def test_each_network_device_problem_is_its_own_line(fields: dict[str, object], expected: list[str]) -> None:
    p = Point(m="snmp_device", t=1, tg={"device": "router", "host": "192.168.1.1"}, f=fields)  # type: ignore[arg-type]
    lines = SnmpProbe.check_lines([p])
    assert [ln.status for ln in lines] == expected
    assert len({ln.text for ln in lines}) == len(lines)
    assert all(ln.target == "router (192.168.1.1)" for ln in lines)
    if fields.get("uptime_s") == 7300:
        assert "2 giờ 1 phút" in lines[1].text
