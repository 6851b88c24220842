"""``commune-agent check`` lines of the ``host`` probe, in Vietnamese: the PC's own health (CPU, memory,
each disk), so a slow or full PC shows in the table next to the network."""

from __future__ import annotations

from agent.probes.base import CheckLine
from agent.wire import Point
from common import vnformat

SECTION = "Máy tính"
CPU_WARN_PERCENT = 90.0
MEM_WARN_PERCENT = 90.0
DISK_WARN_PERCENT = 90.0
DISK_FAIL_PERCENT = 97.0


def _pct(value: float) -> str:
    return vnformat.with_unit(value, "%", 0)


def _host_lines(p: Point) -> list[CheckLine]:
    lines = []
    cpu = p.f.get("cpu_percent")
    if isinstance(cpu, int | float):
        if cpu >= CPU_WARN_PERCENT:
            lines.append(CheckLine(SECTION, "Bộ xử lý (CPU)", "warn",
                                   f"Đang bận {_pct(cpu)}: máy có thể chạy chậm. Đóng bớt chương trình; nếu vẫn "
                                   "vậy, khởi động lại máy."))
        else:
            lines.append(CheckLine(SECTION, "Bộ xử lý (CPU)", "ok", f"Đang bận {_pct(cpu)}."))
    mem, total = p.f.get("mem_percent"), p.f.get("mem_total_bytes")
    if isinstance(mem, int | float):
        of = f" của {vnformat.size(total)}" if isinstance(total, int | float) else ""
        if mem >= MEM_WARN_PERCENT:
            lines.append(CheckLine(SECTION, "Bộ nhớ (RAM)", "warn",
                                   f"Đã dùng {_pct(mem)}{of}: máy có thể chạy chậm. Đóng bớt chương trình."))
        else:
            lines.append(CheckLine(SECTION, "Bộ nhớ (RAM)", "ok", f"Đã dùng {_pct(mem)}{of}."))
    return lines


def _disk_line(p: Point) -> CheckLine:
    target = f"Ổ đĩa {p.tg.get('path', '')}"
    if "error" in p.f:
        return CheckLine(SECTION, target, "warn", "Không đọc được dung lượng ổ đĩa này.")
    pct = float(p.f.get("percent", 0.0))
    free = p.f.get("free_bytes")
    left = f", còn trống {vnformat.size(free)}" if isinstance(free, int | float) else ""
    text = f"Đã dùng {_pct(pct)}{left}."
    if pct >= DISK_FAIL_PERCENT:
        return CheckLine(SECTION, target, "fail", f"{text} Ổ đĩa gần đầy: xóa bớt tệp không cần, dọn thùng rác.")
    if pct >= DISK_WARN_PERCENT:
        return CheckLine(SECTION, target, "warn", f"{text} Nên xóa bớt tệp không cần.")
    return CheckLine(SECTION, target, "ok", text)


def check_lines(points: list[Point]) -> list[CheckLine]:
    lines: list[CheckLine] = []
    for p in points:
        if p.m == "host":
            lines += _host_lines(p)
        elif p.m == "host_disk":
            lines.append(_disk_line(p))
    return lines
