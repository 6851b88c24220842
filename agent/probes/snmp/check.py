"""``commune-agent check`` lines of the ``snmp`` probe, in Vietnamese."""

from __future__ import annotations

from typing import Any

from agent.probes.base import CheckLine
from agent.probes.snmp.results import SnmpResult
from agent.wire import Point
from common import vnformat

SECTION = "Thiết bị mạng"

TEXTS: dict[SnmpResult, str] = {
    SnmpResult.TIMEOUT: "Thiết bị không trả lời khi hỏi thông tin. Kiểm tra nguồn điện và dây mạng của thiết bị.",
    SnmpResult.AUTH_ERROR: "Thiết bị từ chối tên đăng nhập hoặc mật khẩu dùng để đọc thông tin. "
                           "Báo cán bộ kỹ thuật kiểm tra cấu hình SNMP.",
    SnmpResult.ERROR: "Không đọc được thông tin của thiết bị. Báo cho đội ứng cứu của tỉnh.",
    SnmpResult.UPLINK_DOWN: "Cổng nối ra Internet của thiết bị đang mất kết nối. Kiểm tra dây nối tới modem của "
                            "nhà mạng.",
}
"""Vietnamese text of every failing result code (``ok`` needs none)."""
DEVICE_FAILURES = (SnmpResult.TIMEOUT, SnmpResult.AUTH_ERROR, SnmpResult.ERROR)


def check_lines(points: list[Point]) -> list[CheckLine]:
    lines: list[CheckLine] = []
    for p in points:
        if p.m != "snmp_device":
            continue
        name = p.tg.get("device", "?")
        target = f"{name} ({p.tg.get('host', '')})"
        result = str(p.f.get("result", ""))
        if result in DEVICE_FAILURES:
            lines.append(CheckLine(SECTION, target, "fail", TEXTS[SnmpResult(result)]))
            continue
        problems: list[tuple[str, str]] = []
        if result == SnmpResult.UPLINK_DOWN:
            problems.append(("fail", TEXTS[SnmpResult.UPLINK_DOWN]))
        if p.f.get("uplink_found") == 0:
            problems.append(("warn", "Không tìm thấy cổng nối ra Internet đã khai báo trên thiết bị."))
        if p.f.get("rebooted") == 1:
            problems.append(("warn", f"Thiết bị vừa khởi động lại (đã chạy {_vn_duration(p.f.get('uptime_s'))}). "
                                     "Nếu lặp lại nhiều lần, kiểm tra nguồn điện và bộ lưu điện."))
        if p.f.get("uplink_saturated") == 1:
            problems.append(("warn", "Đường nối ra Internet đang quá tải, gần hết băng thông. "
                                     "Mạng có thể chậm; kiểm tra máy nào đang tải nhiều."))
        if not problems:
            up = p.f.get("interfaces_up")
            total = p.f.get("interfaces")
            lines.append(CheckLine(SECTION, target, "ok", f"Hoạt động bình thường, {up}/{total} cổng đang hoạt động."))
            continue
        lines += [CheckLine(SECTION, target, status, text) for status, text in problems]  # one line per problem
    return lines


def _vn_duration(seconds: Any) -> str:
    return vnformat.duration(seconds) if isinstance(seconds, int | float) else "không rõ"
