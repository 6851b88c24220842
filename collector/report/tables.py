"""The report's tables, once, in Vietnamese; every output format renders these."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from collector.report.model import MonthData
from collector.report.period import VN
from common import vnformat

Kind = Literal["text", "int", "num", "pct", "date"]
Cell = str | int | float | dt.datetime | None


@dataclass
class Table:
    sheet: str  # XLSX sheet name (<= 31 characters)
    title: str
    columns: list[tuple[str, Kind]]
    rows: list[list[Cell]] = field(default_factory=list)


def _local(t: dt.datetime) -> dt.datetime:
    return t.astimezone(VN).replace(tzinfo=None)


def build(d: MonthData) -> list[Table]:
    ranked = d.ranked()
    summary = Table("Tổng hợp", f"Tổng hợp mức sẵn sàng hạ tầng số tháng {d.label}", [
        ("Hạng", "int"), ("Mã", "text"), ("Xã/phường", "text"), ("Điểm", "num"), ("Xếp loại", "text"),
        ("Thay đổi so với tháng trước", "num"), ("Khả dụng kết nối (%)", "pct"), ("Khả dụng cổng DVC (%)", "pct"),
        ("Đầy đủ dữ liệu (%)", "pct"), ("Số sự cố", "int"), ("Token hợp lệ", "int")])
    conn = Table("Kết nối", "Kết nối của từng điểm trong giờ hành chính", [
        ("Mã", "text"), ("Xã/phường", "text"), ("Điểm", "text"), ("Phút giờ hành chính", "int"),
        ("Phút hoạt động", "num"), ("Phút mất kết nối", "num"), ("Phút không có dữ liệu", "num"),
        ("Khả dụng (%)", "pct"), ("Đầy đủ dữ liệu (%)", "pct"), ("Mất gói (%)", "num"), ("RTT (ms)", "num")])
    portals = Table("Cổng dịch vụ", "Cổng dịch vụ công: khả dụng và độ trễ p95", [
        ("Mã", "text"), ("Xã/phường", "text"), ("Dịch vụ", "text"), ("Khả dụng (%)", "pct"),
        ("Phút gián đoạn", "num"), ("Độ trễ p95 (ms)", "num")])
    incidents = Table("Sự cố", "Sự cố: số lần, tổng thời gian, thời gian khắc phục trung bình", [
        ("Mã", "text"), ("Xã/phường", "text"), ("Số sự cố", "int"), ("Tổng thời gian (phút)", "num"),
        ("MTTR (phút)", "num")])
    tokens = Table("Chữ ký số", "Chữ ký số: token có chứng thư hợp lệ", [
        ("Mã", "text"), ("Xã/phường", "text"), ("Token đã thấy", "int"), ("Token có chứng thư hợp lệ", "int"),
        ("Chứng thư hết hạn tháng sau", "int")])
    expiring = Table("Chứng thư sắp hết hạn", "Chứng thư số hết hạn trong tháng sau", [
        ("Mã", "text"), ("Xã/phường", "text"), ("Token", "text"), ("Chủ thể", "text"), ("Nơi cấp", "text"),
        ("Hết hạn", "date")])
    devices = Table("Thiết bị mạng", "Thiết bị mạng: khởi động lại và nghẽn đường truyền", [
        ("Mã", "text"), ("Xã/phường", "text"), ("Số lần khởi động lại", "int"), ("Số giờ nghẽn", "num")])
    coverage = Table("Độ phủ", "Độ phủ agent và độ đầy đủ dữ liệu", [
        ("Mã", "text"), ("Xã/phường", "text"), ("Điểm trong danh mục", "int"), ("Điểm có agent báo cáo", "int"),
        ("Độ phủ (%)", "pct"), ("Đầy đủ dữ liệu (%)", "pct")])
    province = Table("Sự cố toàn tỉnh", "Sự cố toàn tỉnh (cổng dịch vụ, nhà mạng)", [
        ("Cảnh báo", "text"), ("Dịch vụ", "text"), ("Bắt đầu", "date"), ("Thời lượng (phút)", "num"),
        ("Số xã bị ảnh hưởng", "int")])
    for c in ranked:
        summary.rows.append([c.rank, c.code, c.name, c.score, c.grade, c.change, c.availability,
                             c.portal_availability, c.completeness, c.incidents, c.tokens_valid])
        for s in c.sites:
            conn.rows.append([c.code, c.name, s.site, s.office_min, s.up_min, s.down_min, s.nodata_min,
                              s.availability, s.completeness, s.loss_pct, s.rtt_ms])
        for p in c.portals:
            portals.rows.append([c.code, c.name, p.service, p.availability, p.down_min, p.p95_ms])
        incidents.rows.append([c.code, c.name, c.incidents, c.downtime_min, c.mttr_min])
        tokens.rows.append([c.code, c.name, c.tokens_seen, c.tokens_valid, len(c.expiring)])
        for e in c.expiring:
            expiring.rows.append([c.code, c.name, e.token, e.subject, e.issuer, _local(e.not_after)])
        devices.rows.append([c.code, c.name, c.reboots, c.saturation_h])
        coverage.rows.append([c.code, c.name, c.sites_inventory, c.sites_reporting, c.coverage, c.completeness])
    for i in d.province_incidents:
        province.rows.append([i.alertname, i.service, _local(i.started), i.duration_min, i.communes])
    return [summary, conn, portals, incidents, tokens, expiring, devices, coverage, province]


def fmt(value: Cell, kind: Kind) -> str:
    """Vietnamese number formatting for text outputs: decimal comma, '—' for no value."""
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        return vnformat.date_time(value)
    if kind == "int" and isinstance(value, int | float):
        return vnformat.integer(value)
    if kind in ("num", "pct") and isinstance(value, int | float):
        return vnformat.number(float(value), 2, trim=False)
    return str(value)
