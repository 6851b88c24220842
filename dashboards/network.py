"""Network devices: uptime/reboots, uplink utilisation, errors, interfaces down."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import table, timeseries
from grafana_foundation_sdk.models import dashboard as m

from dashboards.lib import (
    NOW,
    RAW_RP,
    InfluxQL,
    Layout,
    board,
    commune_data_link,
    link_to,
    newest,
    rp_variable,
    thresholds,
    transform,
)

RENAME = {"commune_name": "Xã/phường", "site": "Điểm", "device": "Thiết bị", "interface": "Cổng",
          "uptime": "Thời gian chạy", "reboots": "Số lần khởi động lại", "Time": "Lần cuối"}


def build() -> dash.Dashboard:
    b = (board("network", "Thiết bị mạng", "Router/switch của các xã: khởi động lại, mức sử dụng đường lên, lỗi, "
               "cổng mạng bị rớt.", ["thiết bị mạng"])
         .with_variable(rp_variable(site=True)).link(link_to("overview", "Toàn tỉnh")))
    lay = Layout(b)
    link = [m.DynamicConfigValue("links", [commune_data_link().build()])]
    lay.add(table.Panel().title("Thời gian chạy và khởi động lại")
            .description("Thời gian thiết bị đã chạy liên tục và số lần khởi động lại trong khoảng thời gian đang "
                         "xem; khởi động lại nhiều là dấu hiệu nguồn điện hoặc thiết bị cũ. Với dữ liệu gộp, hai lần khởi động "
                         "lại trong cùng một phút (một giờ) tính là một.")
            .with_target(InfluxQL('SELECT last("uptime_s") AS "uptime", sum("rebooted") AS "reboots" '
                                  'FROM "$rp"."snmp_device" WHERE $timeFilter '
                                  'GROUP BY "commune", "commune_name", "site", "device"', table=True))
            .with_transformation(transform("organize", {"excludeByName": {"Time": True, "commune": True},
                                                         "renameByName": RENAME}))
            .override_by_name("Thời gian chạy", [m.DynamicConfigValue("unit", "s")])
            .override_by_name("Xã/phường", link).filterable(True), 12, 10)
    lay.add(table.Panel().title("Cổng mạng đang rớt")
            .description("Cổng được bật (admin up) nhưng không hoạt động (oper down) ở lần kiểm tra gần nhất.")
            .with_target(InfluxQL(
                'SELECT "oper_up" FROM (' + newest({"oper_up": "oper_up", "admin_up": "admin_up"},
                                                  f'"{RAW_RP}"."snmp_interface"', NOW,
                                                  '"commune", "commune_name", "site", "device", "interface"')
                + ') WHERE "oper_up" = 0 AND "admin_up" = 1 ORDER BY time DESC', table=True))
            .with_transformation(transform("organize", {"excludeByName": {"oper_up": True, "commune": True},
                                                         "renameByName": RENAME}))
            .override_by_name("Xã/phường", link).filterable(True), 12, 10)
    lay.add(timeseries.Panel().title("Mức sử dụng đường lên (chiều vào)")
            .description("Phần trăm băng thông đường lên (Internet) đang dùng, từng thiết bị; gần 100 % là nghẽn.")
            .with_target(InfluxQL('SELECT mean("uplink_in_util_percent") FROM "$rp"."snmp_device" WHERE $timeFilter '
                                  'GROUP BY time($__interval), "commune_name", "device" fill(none)',
                                  alias="$tag_commune_name $tag_device"))
            .unit("percent").thresholds(thresholds((None, "green"), (80, "orange"), (95, "red"))), 12, 9)
    lay.add(timeseries.Panel().title("Mức sử dụng đường lên (chiều ra)")
            .description("Như trên, chiều gửi ra Internet.")
            .with_target(InfluxQL('SELECT mean("uplink_out_util_percent") FROM "$rp"."snmp_device" WHERE $timeFilter '
                                  'GROUP BY time($__interval), "commune_name", "device" fill(none)',
                                  alias="$tag_commune_name $tag_device"))
            .unit("percent"), 12, 9)
    lay.add(timeseries.Panel().title("Lỗi gói tin trên cổng đường lên")
            .description("Gói lỗi mỗi giây (vào + ra) trên cổng đường lên (uplink) của từng thiết bị: cáp hỏng, "
                         "cổng hỏng, nhiễu. Lỗi trên các cổng LAN: bảng \"Cổng mạng của router\" ở trang chi tiết xã.")
            .with_target(InfluxQL('SELECT mean("in_errors_per_s") + mean("out_errors_per_s") FROM "$rp"."snmp_interface" '
                                  'WHERE $timeFilter AND "role" = \'uplink\' '
                                  'GROUP BY time($__interval), "commune_name", "device" fill(none)',
                                  alias="$tag_commune_name $tag_device"))
            .unit("pps"), 24, 9)
    return b
