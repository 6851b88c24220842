"""Province overview: which communes have a problem right now, what kind, since when."""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import common as common_m
from grafana_foundation_sdk.models import dashboard as m

from collector.retention import META_RP
from dashboards.lib import (
    AVAILABILITY,
    NOW,
    RAW_RP,
    Alerts,
    InfluxQL,
    Layout,
    board,
    commune_data_link,
    join_on,
    link_to,
    reduce_last,
    rp_variable,
    sort_by,
    status_mappings,
    thresholds,
    transform,
)

INVENTORY = f'SELECT "agents", "sites" FROM "{META_RP}"."commune_inventory" GROUP BY "commune", "commune_name"'
PING_NOW = f'SELECT mean("ok") AS "ping_ok" FROM "{RAW_RP}"."ping" WHERE {NOW} GROUP BY "commune"'
HTTP_NOW = f'SELECT mean("ok") AS "portal_ok" FROM "{RAW_RP}"."http" WHERE {NOW} GROUP BY "commune"'
AGENTS_NOW = (f'SELECT count("q") AS "reporting" FROM (SELECT last("queue_depth") AS "q" FROM "{RAW_RP}"."agent" '
              f'WHERE {NOW} GROUP BY "agent", "commune") GROUP BY "commune"')


def status_table() -> table.Panel:
    """One row per commune of the province (148): the inventory is the left side of the join, so a commune
    without an agent is a row with no status, shown as "Không có agent"."""
    return (
        table.Panel().title("Tình trạng 148 xã/phường lúc này")
        .description("Mỗi xã/phường một dòng. Tình trạng = tỉ lệ lượt kiểm tra thành công trong 15 phút qua "
                     "(thấp hơn giữa kết nối mạng và cổng dịch vụ): ≥ 95 % bình thường, 50–95 % suy giảm, "
                     "< 50 % mất kết nối. Xã không có agent nào báo về hiện \"Không có agent\".")
        .with_target(InfluxQL(INVENTORY, "A", table=True))
        .with_target(InfluxQL(PING_NOW, "B", table=True))
        .with_target(InfluxQL(HTTP_NOW, "C", table=True))
        .with_target(InfluxQL(AGENTS_NOW, "D", table=True))
        .transformations([*join_on("commune"), transform("calculateField", {
            "alias": "status", "mode": "reduceRow",
            "reduce": {"include": ["ping_ok", "portal_ok"], "reducer": "min"}, "replaceFields": False}),
                          transform("organize", {
            "excludeByName": {"sites": True},
            "renameByName": {"commune": "Mã", "commune_name": "Xã/phường", "agents": "Số agent",
                             "reporting": "Agent đang báo", "ping_ok": "Mạng", "portal_ok": "Cổng dịch vụ",
                             "status": "Tình trạng"}})])
        .override_by_name("Tình trạng", [
            m.DynamicConfigValue("mappings", status_mappings()),
            m.DynamicConfigValue("custom.cellOptions", {"type": "color-background"})])
        .override_by_name("Xã/phường", [m.DynamicConfigValue("links", [commune_data_link().build()])])
        .unit("percentunit").filterable(True).sort_by([sort_by("Tình trạng")])
    )


def build() -> dash.Dashboard:
    b = (board("overview", "Toàn tỉnh — tổng quan", "Xã/phường nào đang có sự cố, loại sự cố gì, từ khi nào; "
               "bấm tên xã để xem chi tiết.", ["tổng quan"])
         .with_variable(rp_variable(site=True))
         .link(link_to("portals", "Cổng dịch vụ")).link(link_to("signatures", "Chữ ký số"))
         .link(link_to("network", "Thiết bị mạng")).link(link_to("fleet", "Agent và collector")))
    lay = Layout(b)
    lay.add(stat.Panel().title("Xã có agent")
            .description("Số xã/phường có ít nhất một agent trong danh mục.")
            .with_target(InfluxQL(f'SELECT count("agents") FROM "{META_RP}"."commune_inventory" WHERE "agents" > 0'))
            .reduce_options(reduce_last()), 4, 4)
    lay.add(stat.Panel().title("Xã chưa có agent")
            .description("Xã/phường trong danh mục hành chính của tỉnh mà chưa có agent nào: không được giám sát.")
            .with_target(InfluxQL(f'SELECT count("agents") FROM "{META_RP}"."commune_inventory" WHERE "agents" = 0'))
            .reduce_options(reduce_last()).thresholds(thresholds((None, "green"), (1, "orange"))), 4, 4)
    lay.add(stat.Panel().title("Agent đang báo về")
            .description("Agent có dữ liệu trong 15 phút qua.")
            .with_target(InfluxQL(f'SELECT count("q") FROM (SELECT last("queue_depth") AS "q" FROM "{RAW_RP}"."agent" '
                                  f'WHERE {NOW} GROUP BY "agent")'))
            .reduce_options(reduce_last()), 4, 4)
    lay.add(stat.Panel().title("Khả dụng mạng toàn tỉnh")
            .description("Tỉ lệ lượt ping thành công trên toàn tỉnh trong khoảng thời gian đang xem.")
            .with_target(InfluxQL('SELECT mean("ok") FROM "$rp"."ping" WHERE $timeFilter'))
            .unit("percentunit").thresholds(AVAILABILITY).reduce_options(reduce_last()), 6, 4)
    lay.add(stat.Panel().title("Khả dụng cổng dịch vụ toàn tỉnh")
            .description("Tỉ lệ lượt truy cập cổng dịch vụ công thành công trên toàn tỉnh.")
            .with_target(InfluxQL('SELECT mean("ok") FROM "$rp"."http" WHERE $timeFilter'))
            .unit("percentunit").thresholds(AVAILABILITY).reduce_options(reduce_last()), 6, 4)
    lay.add(status_table(), 12, 16)
    lay.add(table.Panel().title("Cảnh báo và sự cố đang mở")
            .description("Cảnh báo đang hoạt động, chưa bị tắt tiếng, từ Alertmanager; cột startsAt cho biết "
                         "sự cố bắt đầu từ khi nào.")
            .with_target(Alerts('{province="25"}')).filterable(True), 12, 8)
    lay.add(bargauge.Panel().title("10 xã kém nhất")
            .description("Các xã/phường có tỉ lệ kiểm tra mạng thành công thấp nhất trong khoảng thời gian đang xem.")
            .with_target(InfluxQL('SELECT bottom("avail", "commune_name", 10) AS "avail" FROM (SELECT mean("ok") '
                                  'AS "avail" FROM "$rp"."ping" WHERE $timeFilter GROUP BY "commune_name")', table=True))
            .unit("percentunit").min(0).max(1).thresholds(AVAILABILITY)
            .reduce_options(reduce_last().values(True)), 12, 8)
    lay.row("Theo thời gian")
    lay.add(statetimeline.Panel().title("Diễn biến tình trạng từng xã")
            .description("Tình trạng mạng của từng xã/phường theo thời gian: thấy được sự cố bắt đầu từ khi nào.")
            .with_target(InfluxQL('SELECT mean("ok") FROM "$rp"."ping" WHERE $timeFilter '
                                  'GROUP BY time($__interval), "commune_name" fill(none)', alias="$tag_commune_name"))
            .mappings(status_mappings("Không có dữ liệu")).thresholds(AVAILABILITY).show_value(common_m.VisibilityMode.NEVER)
            .row_height(0.9), 24, 30)
    lay.add(timeseries.Panel().title("Khả dụng cổng dịch vụ theo xã")
            .description("Tỉ lệ truy cập cổng dịch vụ công thành công của từng xã/phường theo thời gian.")
            .with_target(InfluxQL('SELECT mean("ok") FROM "$rp"."http" WHERE $timeFilter '
                                  'GROUP BY time($__interval), "commune_name" fill(none)', alias="$tag_commune_name"))
            .unit("percentunit").min(0).max(1), 24, 10)
    lay.row("So sánh nhà mạng")
    lay.add(timeseries.Panel().title("Độ trễ Internet theo nhà mạng")
            .description("Thời gian phản hồi dịch vụ echo qua từng đường truyền (VNPT, Viettel...), trung bình các xã.")
            .with_target(InfluxQL('SELECT mean("echo_ms") FROM "$rp"."uplink" WHERE $timeFilter '
                                  'GROUP BY time($__interval), "link" fill(none)', alias="$tag_link"))
            .unit("ms"), 12, 8)
    lay.add(timeseries.Panel().title("Khả dụng đường truyền theo nhà mạng")
            .description("Tỉ lệ lượt kiểm tra đường truyền thành công, theo nhà mạng.")
            .with_target(InfluxQL('SELECT mean("ok") FROM "$rp"."uplink" WHERE $timeFilter '
                                  'GROUP BY time($__interval), "link" fill(none)', alias="$tag_link"))
            .unit("percentunit").min(0).max(1), 6, 8)
    lay.add(table.Panel().title("Số agent theo nhà mạng")
            .description("Số agent đang đi Internet qua từng nhà mạng (giờ qua).")
            .with_target(InfluxQL(f'SELECT count("e") AS "agents" FROM (SELECT last("echo_ms") AS "e" FROM "{RAW_RP}"."uplink" '
                                  'WHERE time > now() - 1h GROUP BY "agent", "link") GROUP BY "link"', table=True))
            .with_transformation(transform("organize", {"excludeByName": {"Time": True},
                                                         "renameByName": {"link": "Nhà mạng", "agents": "Số agent"}})),
            6, 8)
    return b
