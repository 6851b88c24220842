"""Commune detail: one commune, its sites and agents (variables commune -> site -> agent)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import stat, table, timeseries
from grafana_foundation_sdk.models import common as common_m

from dashboards.lib import (
    AVAILABILITY,
    RAW_RP,
    InfluxQL,
    Layout,
    board,
    commune_variable,
    link_to,
    newest,
    reduce_last,
    rp_variable,
    tag_variable,
    thresholds,
    transform,
)

SEL = "\"commune\" = '$commune' AND \"site\" =~ /^$site$/ AND \"agent\" =~ /^$agent$/"


def ts(title: str, description: str, query: str, unit: str, alias: str = "") -> timeseries.Panel:
    return (timeseries.Panel().title(title).description(description)
            .with_target(InfluxQL(query, alias=alias)).unit(unit))


def tbl(title: str, description: str, query: str, rename: dict[str, str]) -> table.Panel:
    return (table.Panel().title(title).description(description).with_target(InfluxQL(query, table=True))
            .with_transformation(transform("organize", {"renameByName": rename})).filterable(True))


def build() -> dash.Dashboard:
    b = (board("commune", "Chi tiết xã/phường", "Một xã/phường: đường truyền, cổng dịch vụ, chữ ký số, router, máy "
               "tính; chọn điểm (site) và máy (agent) để khoanh vùng.", ["xã"])
         .with_variable(rp_variable()).with_variable(commune_variable())
         .with_variable(tag_variable("site", "Điểm", "agent", "\"commune\" = '$commune'"))
         .with_variable(tag_variable("agent", "Máy", "agent", "\"commune\" = '$commune' AND \"site\" =~ /^$site$/"))
         .link(link_to("overview", "Toàn tỉnh")))
    lay = Layout(b)
    lay.row("Kết nối")
    lay.add(stat.Panel().title("Khả dụng mạng").description("Tỉ lệ lượt ping thành công trong khoảng thời gian đang xem.")
            .with_target(InfluxQL(f'SELECT mean("ok") FROM "$rp"."ping" WHERE $timeFilter AND {SEL}'))
            .unit("percentunit").thresholds(AVAILABILITY).reduce_options(reduce_last()), 4, 8)
    lay.add(ts("Mất gói theo đích", "Tỉ lệ mất gói ping tới gateway, DNS nhà mạng, Internet, trung tâm dữ liệu tỉnh.",
               f'SELECT mean("loss_percent") FROM "$rp"."ping" WHERE $timeFilter AND {SEL} '
               'GROUP BY time($__interval), "site", "name" fill(none)', "percent", "$tag_site $tag_name"), 10, 8)
    lay.add(ts("Độ trễ (RTT) theo đích", "Thời gian khứ hồi trung bình của gói ping.",
               f'SELECT mean("rtt_avg_ms") FROM "$rp"."ping" WHERE $timeFilter AND {SEL} '
               'GROUP BY time($__interval), "site", "name" fill(none)', "ms", "$tag_site $tag_name"), 10, 8)
    lay.add(tbl("Đường truyền đang dùng", "Nhà mạng (link) và địa chỉ IP công cộng mỗi máy đang dùng.",
                newest({"public_ip": "ip", "echo_ms": "echo_ms"}, f'"{RAW_RP}"."uplink"', f"$timeFilter AND {SEL}",
                       '"site", "agent", "link"'),
                {"site": "Điểm", "agent": "Máy", "link": "Nhà mạng", "ip": "IP công cộng", "echo_ms": "Echo (ms)",
                 "Time": "Lần cuối"}), 12, 8)
    lay.add(ts("Độ trễ Internet theo nhà mạng", "Thời gian phản hồi dịch vụ echo qua từng đường truyền.",
               f'SELECT mean("echo_ms") FROM "$rp"."uplink" WHERE $timeFilter AND {SEL} '
               'GROUP BY time($__interval), "link" fill(none)', "ms", "$tag_link"), 12, 8)
    lay.row("Cổng dịch vụ")
    lay.add(ts("Thời gian tải trang theo giai đoạn", "Thời gian trung bình của từng giai đoạn: tra DNS, kết nối, TLS, "
               "máy chủ xử lý, truyền dữ liệu — biết chậm ở mạng hay ở máy chủ cổng.",
               f'SELECT mean("dns_ms") AS "DNS", mean("connect_ms") AS "Kết nối", mean("tls_ms") AS "TLS", '
               f'mean("processing_ms") AS "Xử lý", mean("transfer_ms") AS "Truyền" FROM "$rp"."http" '
               f'WHERE $timeFilter AND {SEL} GROUP BY time($__interval) fill(none)', "ms")
            .stacking(common_b.StackingConfig().mode(common_m.StackingMode.NORMAL)), 12, 8)
    lay.add(ts("Khả dụng từng cổng", "Tỉ lệ truy cập thành công từng cổng dịch vụ.",
               f'SELECT mean("ok") FROM "$rp"."http" WHERE $timeFilter AND {SEL} '
               'GROUP BY time($__interval), "service" fill(none)', "percentunit", "$tag_service").min(0).max(1), 12, 8)
    lay.add(tbl("Lỗi gần nhất của cổng", "Kết quả lần kiểm tra gần nhất của từng cổng, từng máy.",
                newest({"result": "result", "reason": "reason", "total_ms": "total_ms"}, f'"{RAW_RP}"."http"',
                       f"$timeFilter AND {SEL}", '"site", "agent", "service"'),
                {"site": "Điểm", "agent": "Máy", "service": "Cổng", "result": "Kết quả", "reason": "Chi tiết",
                 "total_ms": "Tổng (ms)", "Time": "Lúc"}), 24, 7)
    lay.row("Chữ ký số")
    lay.add(tbl("USB token", "Token có cắm vào máy không, có bao nhiêu chứng thư.",
                newest({"present": "present", "certificates": "certs", "result": "result"}, f'"{RAW_RP}"."token"',
                       f"$timeFilter AND {SEL}", '"site", "agent", "module"'),
                {"site": "Điểm", "agent": "Máy", "module": "Middleware", "present": "Có token",
                 "certs": "Số chứng thư", "result": "Kết quả", "Time": "Lúc"}), 12, 8)
    lay.add(tbl("Chứng thư số và hạn dùng", "Số ngày còn lại đến khi chứng thư hết hạn (âm: đã hết hạn).",
                f'SELECT last("days_left") AS "days_left" FROM "{RAW_RP}"."token_cert" WHERE $timeFilter AND {SEL} '
                'GROUP BY "site", "agent", "issuer", "subject"',
                {"site": "Điểm", "agent": "Máy", "issuer": "CA", "subject": "Chủ thể", "days_left": "Còn (ngày)",
                 "Time": "Lúc"})
            .thresholds(thresholds((None, "red"), (7, "orange"), (30, "green"))), 12, 8)
    lay.row("Router và mạng LAN")
    lay.add(tbl("Cổng mạng của router", "Trạng thái từng cổng (1 = hoạt động), mức sử dụng và gói lỗi.",
                newest({"oper_up": "up", "admin_up": "enabled", "in_util_percent": "in_util",
                        "out_util_percent": "out_util", "in_errors_per_s": "in_err"},
                       f'"{RAW_RP}"."snmp_interface"', f"$timeFilter AND {SEL}", '"site", "device", "interface"'),
                {"site": "Điểm", "device": "Thiết bị", "interface": "Cổng", "up": "Hoạt động", "enabled": "Bật",
                 "in_util": "Vào (%)", "out_util": "Ra (%)", "in_err": "Lỗi vào (gói/s)", "Time": "Lúc"}), 12, 8)
    lay.add(ts("Lưu lượng router", "Lưu lượng vào/ra của từng cổng router.",
               f'SELECT mean("in_bps") AS "vào", mean("out_bps") AS "ra" FROM "$rp"."snmp_interface" '
               f'WHERE $timeFilter AND {SEL} GROUP BY time($__interval), "device", "interface" fill(none)', "bps",
               "$tag_device $tag_interface $col"), 12, 8)
    lay.row("Máy tính")
    lay.add(ts("CPU", "Mức dùng CPU từng máy.", f'SELECT mean("cpu_percent") FROM "$rp"."host" WHERE $timeFilter '
               f'AND {SEL} GROUP BY time($__interval), "agent" fill(none)', "percent", "$tag_agent"), 8, 8)
    lay.add(ts("Bộ nhớ", "Mức dùng RAM từng máy.", f'SELECT mean("mem_percent") FROM "$rp"."host" WHERE $timeFilter '
               f'AND {SEL} GROUP BY time($__interval), "agent" fill(none)', "percent", "$tag_agent"), 8, 8)
    lay.add(tbl("Ổ đĩa", "Dung lượng đã dùng của từng ổ đĩa.",
                f'SELECT last("percent") AS "percent" FROM "{RAW_RP}"."host_disk" WHERE $timeFilter AND {SEL} '
                'GROUP BY "agent", "path"', {"agent": "Máy", "path": "Ổ đĩa", "percent": "Đã dùng (%)", "Time": "Lúc"})
            .thresholds(thresholds((None, "green"), (85, "orange"), (95, "red"))), 8, 8)
    return b

