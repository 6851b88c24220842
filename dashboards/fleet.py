"""Agent fleet and collector health."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import table, timeseries

from dashboards.lib import (
    RAW_RP,
    InfluxQL,
    Layout,
    board,
    link_to,
    newest,
    rp_variable,
    sort_by,
    thresholds,
    transform,
)


def build() -> dash.Dashboard:
    b = (board("fleet", "Agent và collector", "Các agent còn báo về không, hàng đợi, đồng hồ; collector nhận, "
               "ghi, từ chối bao nhiêu.", ["vận hành"])
         .with_variable(rp_variable(site=True)).link(link_to("overview", "Toàn tỉnh")))
    lay = Layout(b)
    lay.row("Agent")
    lay.add(table.Panel().title("Agent: lần cuối báo về")
            .description("Mỗi agent một dòng: lần cuối có dữ liệu (7 ngày qua), hàng đợi chưa gửi, số lô bị bỏ, "
                         "lệch đồng hồ. Agent lâu không báo về nằm trên cùng.")
            .with_target(InfluxQL(newest(
                {"queue_depth": "queue", "queue_dropped_total": "dropped", "clock_offset_ms": "offset_ms"},
                f'"{RAW_RP}"."agent"', "time > now() - 7d", '"commune_name", "site", "agent"'), table=True))
            .with_transformation(transform("organize", {"renameByName": {
                "Time": "Lần cuối", "commune_name": "Xã/phường", "site": "Điểm", "agent": "Agent",
                "queue": "Hàng đợi (lô)", "dropped": "Đã bỏ (lô)", "offset_ms": "Lệch đồng hồ (ms)"}}))
            .filterable(True).sort_by([sort_by("Lần cuối")]), 24, 10)
    lay.add(table.Panel().title("Phiên bản agent")
            .description("Phiên bản phần mềm mỗi agent báo khi kết nối (30 ngày qua) và trạng thái cuối: tìm máy "
                         "còn chạy bản cũ sau khi nâng cấp. Sắp theo phiên bản, bản cũ nhất lên trên.")
            .with_target(InfluxQL(
                f'SELECT last("version") AS "version", last("state") AS "state" FROM "{RAW_RP}"."agent_status" '
                'WHERE time > now() - 30d GROUP BY "commune_name", "site", "agent"', table=True))
            .with_transformation(transform("organize", {"excludeByName": {"Time": True}, "renameByName": {
                "commune_name": "Xã/phường", "site": "Điểm", "agent": "Agent",
                "version": "Phiên bản", "state": "Trạng thái"}}))
            .filterable(True).sort_by([sort_by("Phiên bản")]), 24, 8)
    lay.add(timeseries.Panel().title("Hàng đợi của agent")
            .description("Số lô chưa được collector xác nhận, lớn nhất theo xã: tăng là mất kết nối tới trung tâm.")
            .with_target(InfluxQL('SELECT max("queue_depth") FROM "$rp"."agent" WHERE $timeFilter '
                                  'GROUP BY time($__interval), "commune_name" fill(none)', alias="$tag_commune_name")),
            12, 8)
    lay.add(timeseries.Panel().title("Lô bị bỏ")
            .description("Số lô agent đã phải bỏ vì hàng đợi đầy/quá cũ (bộ đếm cộng dồn), lớn nhất trong các máy "
                         "của mỗi xã: tăng là mất dữ liệu; máy nào: bảng \"Agent: lần cuối báo về\".")
            .with_target(InfluxQL('SELECT max("queue_dropped_total") FROM "$rp"."agent" WHERE $timeFilter '
                                  'GROUP BY time($__interval), "commune_name" fill(none)', alias="$tag_commune_name")),
            12, 8)
    lay.add(timeseries.Panel().title("Lệch đồng hồ")
            .description("Đồng hồ collector trừ đồng hồ agent, lớn nhất trong các máy của mỗi xã (dương: đồng hồ máy "
                         "chậm); lệch quá 30 giây làm sai thời điểm của dữ liệu. Từng máy: bảng \"Agent: lần cuối "
                         "báo về\" và cảnh báo lệch đồng hồ.")
            .with_target(InfluxQL('SELECT max("offset_ms") FROM "$rp"."agent_clock" WHERE $timeFilter '
                                  'GROUP BY time($__interval), "commune_name" fill(none)', alias="$tag_commune_name"))
            .unit("ms").thresholds(thresholds((None, "green"), (30000, "red"))), 12, 8)
    lay.add(timeseries.Panel().title("Số điểm có agent báo về")
            .description("Số điểm (trụ sở, điểm làm việc) có ít nhất một agent báo về trong từng khoảng thời gian: "
                         "giảm đột ngột là mất kết nối hàng loạt (mất điện, sự cố nhà mạng) hoặc collector có vấn đề. "
                         "Số agent đang báo về lúc này: trang tổng quan.")
            .with_target(InfluxQL('SELECT count("q") FROM (SELECT last("queue_depth") AS "q" FROM "$rp"."agent" '
                                  'WHERE $timeFilter GROUP BY time($__interval), "commune", "site") '
                                  'WHERE $timeFilter GROUP BY time($__interval) fill(none)', alias="điểm")), 12, 8)
    lay.row("Collector")
    lay.add(timeseries.Panel().title("Tốc độ nhận và ghi")
            .description("Điểm dữ liệu collector nhận và ghi vào InfluxDB mỗi giây.")
            .with_target(InfluxQL('SELECT non_negative_derivative(max("points_accepted"), 1s) AS "nhận", '
                                  'non_negative_derivative(max("points_written"), 1s) AS "ghi" FROM "$rp"."collector" '
                                  'WHERE $timeFilter GROUP BY time($__interval), "collector" fill(none)',
                                  alias="$tag_collector $col"))
            .unit("pps"), 12, 8)
    lay.add(timeseries.Panel().title("Bản tin bị từ chối")
            .description("Bản tin bị từ chối mỗi phút, theo lý do (rejected_<lý do>): sai định dạng, sai phiên bản, "
                         "agent không có trong danh mục...")
            .with_target(InfluxQL(f'SELECT non_negative_derivative(max(/^rejected_/), 1m) FROM "{RAW_RP}"."collector" '
                                  'WHERE $timeFilter GROUP BY time($__interval) fill(none)'))
            .unit("short"), 12, 8)
    lay.add(timeseries.Panel().title("Độ trễ ghi InfluxDB")
            .description("Thời gian InfluxDB trả lời một lần ghi: trung bình và lớn nhất trong mỗi khoảng. Tăng là "
                         "InfluxDB quá tải hoặc đĩa chậm; trên 10 giây thì lần ghi hết thời gian chờ và phải ghi lại.")
            .with_target(InfluxQL('SELECT mean("write_latency_mean_ms") AS "trung bình", '
                                  'max("write_latency_max_ms") AS "lớn nhất" FROM "$rp"."collector" '
                                  'WHERE $timeFilter GROUP BY time($__interval) fill(none)'))
            .unit("ms").thresholds(thresholds((None, "green"), (1000, "orange"), (5000, "red"))), 12, 8)
    lay.add(timeseries.Panel().title("Ghi vào InfluxDB")
            .description("Điểm chờ ghi (tăng khi InfluxDB chậm hơn lượng dữ liệu đến) và số lần ghi lỗi mỗi phút.")
            .with_target(InfluxQL('SELECT max("pending_points") AS "đang chờ" FROM "$rp"."collector" WHERE $timeFilter '
                                  'GROUP BY time($__interval) fill(none)', "A"))
            .with_target(InfluxQL('SELECT non_negative_derivative(max("write_errors"), 1m) AS "lỗi ghi" '
                                  'FROM "$rp"."collector" WHERE $timeFilter GROUP BY time($__interval) fill(none)', "B")),
            12, 8)
    return b

