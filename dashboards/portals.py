"""Service portals: availability and p50/p95 latency per service across communes; which communes fail now."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import table, timeseries
from grafana_foundation_sdk.models import dashboard as m

from dashboards.lib import (
    AVAILABILITY,
    NOW,
    RAW_RP,
    InfluxQL,
    Layout,
    board,
    commune_data_link,
    link_to,
    newest,
    rp_variable,
    tag_variable,
    transform,
)

SVC = 'AND "service" =~ /^$service$/'


def build() -> dash.Dashboard:
    b = (board("portals", "Cổng dịch vụ công", "Các cổng dịch vụ công và hệ thống TTHC có truy cập được từ các xã "
               "không, nhanh hay chậm; xã nào đang lỗi.", ["cổng dịch vụ"])
         .with_variable(rp_variable(site=True)).with_variable(tag_variable("service", "Cổng", "http"))
         .link(link_to("overview", "Toàn tỉnh")))
    lay = Layout(b)
    lay.add(timeseries.Panel().title("Khả dụng theo cổng")
            .description("Tỉ lệ truy cập thành công của từng cổng, tính trên mọi xã/phường.")
            .with_target(InfluxQL(f'SELECT mean("ok") FROM "$rp"."http" WHERE $timeFilter {SVC} '
                                  'GROUP BY time($__interval), "service" fill(none)', alias="$tag_service"))
            .unit("percentunit").min(0).max(1), 12, 9)
    lay.add(table.Panel().title("Khả dụng theo cổng và xã")
            .description("Tỉ lệ thành công trong khoảng thời gian đang xem, mỗi cặp cổng – xã một dòng; "
                         "thấp nhất lên đầu.")
            .with_target(InfluxQL(f'SELECT mean("ok") AS "avail" FROM "$rp"."http" WHERE $timeFilter {SVC} '
                                  'GROUP BY "service", "commune", "commune_name"', table=True))
            .with_transformation(transform("organize", {"excludeByName": {"Time": True, "commune": True},
                                                         "renameByName": {"service": "Cổng", "commune_name": "Xã/phường",
                                                                          "avail": "Khả dụng"}}))
            .unit("percentunit").thresholds(AVAILABILITY)
            .override_by_name("Xã/phường", [m.DynamicConfigValue("links", [commune_data_link().build()])])
            .override_by_name("Khả dụng", [m.DynamicConfigValue("custom.cellOptions", {"type": "color-background"})])
            .filterable(True), 12, 9)
    lay.add(timeseries.Panel().title("Thời gian phản hồi p50")
            .description("Trung vị tổng thời gian tải trang của từng cổng trên các xã (với dữ liệu gộp: trung vị "
                         "của các giá trị trung bình từng phút/giờ).")
            .with_target(InfluxQL(f'SELECT percentile("total_ms", 50) FROM "$rp"."http" WHERE $timeFilter {SVC} '
                                  'GROUP BY time($__interval), "service" fill(none)', alias="$tag_service"))
            .unit("ms"), 12, 8)
    lay.add(timeseries.Panel().title("Thời gian phản hồi p95")
            .description("95 % lượt truy cập nhanh hơn mức này; vượt 5 giây là người dân và cán bộ thấy chậm.")
            .with_target(InfluxQL(f'SELECT percentile("total_ms", 95) FROM "$rp"."http" WHERE $timeFilter {SVC} '
                                  'GROUP BY time($__interval), "service" fill(none)', alias="$tag_service"))
            .unit("ms"), 12, 8)
    lay.add(table.Panel().title("Xã đang không vào được cổng")
            .description("Lần kiểm tra gần nhất (15 phút qua) thất bại: cổng, xã, điểm, mã lỗi và chi tiết.")
            .with_target(InfluxQL(
                'SELECT "ok", "result", "reason" FROM (' + newest(
                    {"ok": "ok", "result": "result", "reason": "reason"}, f'"{RAW_RP}"."http"', f"{NOW} {SVC}",
                    '"service", "commune", "commune_name", "site"') + ') WHERE "ok" = 0 ORDER BY time DESC', table=True))
            .with_transformation(transform("organize", {"excludeByName": {"ok": True, "commune": True},
                                                         "renameByName": {"service": "Cổng", "commune_name": "Xã/phường",
                                                                          "site": "Điểm", "result": "Lỗi",
                                                                          "reason": "Chi tiết", "Time": "Lúc"}}))
            .override_by_name("Xã/phường", [m.DynamicConfigValue("links", [commune_data_link().build()])])
            .filterable(True), 24, 9)
    return b
