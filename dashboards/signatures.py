"""Digital signatures: tokens present, certificates expiring within 30/7 days, middleware down."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import stat, table, timeseries
from grafana_foundation_sdk.models import dashboard as m

from dashboards.lib import (
    RAW_RP,
    InfluxQL,
    Layout,
    board,
    commune_data_link,
    link_to,
    newest,
    reduce_last,
    rp_variable,
    thresholds,
    transform,
)

RECENT = "time > now() - 1d"  # tokens and certificates are checked every few minutes; a day covers PCs off at night
RENAME = {"commune_name": "Xã/phường", "site": "Điểm", "agent": "Máy", "issuer": "CA", "subject": "Chủ thể",
          "days_left": "Còn (ngày)", "module": "Middleware", "result": "Lỗi", "reason": "Chi tiết",
          "Time": "Lần cuối"}


def expiring(days: int) -> table.Panel:
    return (table.Panel().title(f"Chứng thư hết hạn trong {days} ngày")
            .description(f"Chứng thư số trên USB token còn dưới {days} ngày (âm: đã hết hạn): xã, điểm, CA, số ngày "
                         "còn lại. Cần gia hạn với nhà cung cấp trước khi hết hạn.")
            .with_target(InfluxQL(
                f'SELECT "days_left" FROM (SELECT last("days_left") AS "days_left" FROM "{RAW_RP}"."token_cert" '
                f'WHERE {RECENT} GROUP BY "commune", "commune_name", "site", "agent", "issuer", "subject") '
                f'WHERE "days_left" < {days}', table=True))
            .with_transformation(transform("organize", {"excludeByName": {"commune": True}, "renameByName": RENAME}))
            .thresholds(thresholds((None, "red"), (7, "orange"), (30, "green")))
            .override_by_name("Còn (ngày)", [m.DynamicConfigValue("custom.cellOptions", {"type": "color-background"})])
            .override_by_name("Xã/phường", [m.DynamicConfigValue("links", [commune_data_link().build()])])
            .filterable(True))


def build() -> dash.Dashboard:
    b = (board("signatures", "Chữ ký số", "USB token ký số có trên máy không, chứng thư nào sắp hết hạn, "
               "middleware của nhà cung cấp có chạy không.", ["chữ ký số"])
         .with_variable(rp_variable(site=True)).link(link_to("overview", "Toàn tỉnh")))
    lay = Layout(b)
    token_last = (f'SELECT last("present") AS "present" FROM "{RAW_RP}"."token" WHERE {RECENT} '
                  'GROUP BY "agent"')
    lay.add(stat.Panel().title("Máy có token").description("Số máy đang thấy USB token ký số (trong ngày qua).")
            .with_target(InfluxQL(f'SELECT sum("present") FROM ({token_last})')).reduce_options(reduce_last()), 6, 4)
    lay.add(stat.Panel().title("Máy không thấy token")
            .description("Số máy được cấu hình kiểm tra token nhưng lần gần nhất không thấy token nào.")
            .with_target(InfluxQL(f'SELECT count("present") FROM ({token_last}) WHERE "present" = 0'))
            .reduce_options(reduce_last()).thresholds(thresholds((None, "green"), (1, "orange"))), 6, 4)
    lay.add(stat.Panel().title("Chứng thư < 30 ngày").description("Số chứng thư còn dưới 30 ngày.")
            .with_target(InfluxQL(f'SELECT count("d") FROM (SELECT last("days_left") AS "d" FROM "{RAW_RP}"."token_cert" '
                                  f'WHERE {RECENT} GROUP BY "agent", "serial") WHERE "d" < 30'))
            .reduce_options(reduce_last()).thresholds(thresholds((None, "green"), (1, "orange"))), 6, 4)
    lay.add(stat.Panel().title("Chứng thư < 7 ngày").description("Số chứng thư còn dưới 7 ngày hoặc đã hết hạn.")
            .with_target(InfluxQL(f'SELECT count("d") FROM (SELECT last("days_left") AS "d" FROM "{RAW_RP}"."token_cert" '
                                  f'WHERE {RECENT} GROUP BY "agent", "serial") WHERE "d" < 7'))
            .reduce_options(reduce_last()).thresholds(thresholds((None, "green"), (1, "red"))), 6, 4)
    lay.add(expiring(30), 12, 10)
    lay.add(expiring(7), 12, 10)
    lay.add(table.Panel().title("Middleware không chạy")
            .description("Máy có thư viện PKCS#11 của nhà cung cấp token không nạp được hoặc không trả lời.")
            .with_target(InfluxQL(
                'SELECT "ok", "result", "reason" FROM (' + newest(
                    {"ok": "ok", "result": "result", "reason": "reason"}, f'"{RAW_RP}"."token_module"', RECENT,
                    '"commune", "commune_name", "site", "agent", "module"') + ') WHERE "ok" = 0 ORDER BY time DESC', table=True))
            .with_transformation(transform("organize", {"excludeByName": {"ok": True, "commune": True},
                                                         "renameByName": RENAME}))
            .filterable(True), 12, 8)
    lay.add(timeseries.Panel().title("Tỉ lệ máy có token theo thời gian")
            .description("Trung bình toàn tỉnh của việc có token trên máy (1 = mọi máy đều có).")
            .with_target(InfluxQL('SELECT mean("present") FROM "$rp"."token" WHERE $timeFilter '
                                  'GROUP BY time($__interval) fill(none)', alias="Có token"))
            .unit("percentunit").min(0).max(1), 12, 8)
    return b
