"""Readiness score 0–100 (weights below, printed in the report itself), grade, rank, change."""

from __future__ import annotations

from collector.report.model import CommuneFigures, MonthData

# (key, weight, Vietnamese description) — the report prints this table.
WEIGHTS: tuple[tuple[str, int, str], ...] = (
    ("connectivity", 35, "Khả dụng kết nối trong giờ hành chính (% số phút có dữ liệu)"),
    ("portals", 20, "Khả dụng cổng dịch vụ công (% số phút có dữ liệu)"),
    ("completeness", 15, "Độ đầy đủ dữ liệu (% số phút giờ hành chính có dữ liệu, tất cả điểm)"),
    ("signatures", 15, "Chữ ký số: % token có chứng thư hợp lệ; chứng thư hết hạn tháng sau tính một nửa"),
    ("network", 10, "Thiết bị mạng: 100 − 10 × số lần khởi động lại − 2 × số giờ nghẽn đường truyền"),
    ("incidents", 5, "Sự cố: 100 − 5 × số sự cố"),
)
GRADES: tuple[tuple[float, str], ...] = ((90.0, "Tốt"), (75.0, "Khá"), (60.0, "Trung bình"), (0.0, "Yếu"))


def _clamp(x: float) -> float:
    return max(0.0, min(100.0, x))


def components(c: CommuneFigures) -> dict[str, float]:
    """Each component 0–100. Missing data counts as 0: a commune without data is not shown as ready."""
    if c.tokens_seen:
        half = len({e.token for e in c.expiring})
        sig = 100.0 * (c.tokens_valid - 0.5 * min(half, c.tokens_valid)) / c.tokens_seen
    else:
        sig = 0.0
    return {
        "connectivity": c.availability or 0.0,
        "portals": c.portal_availability or 0.0,
        "completeness": c.completeness,
        "signatures": _clamp(sig),
        "network": _clamp(100.0 - 10.0 * c.reboots - 2.0 * c.saturation_h) if c.sites_reporting else 0.0,
        "incidents": _clamp(100.0 - 5.0 * c.incidents) if c.sites_reporting else 0.0,
    }


def score(c: CommuneFigures) -> float:
    parts = components(c)
    return round(sum(w * parts[k] for k, w, _ in WEIGHTS) / sum(w for _, w, _ in WEIGHTS), 1)


def grade(s: float) -> str:
    return next(g for lo, g in GRADES if s >= lo)


def apply(data: MonthData, previous: MonthData | None = None) -> None:
    """Score, grade and rank every commune (competition ranking: equal scores share a rank: 1, 2, 2, 4)."""
    for c in data.communes.values():
        c.score = score(c)
        c.grade = grade(c.score)
        before = previous.communes.get(c.code) if previous is not None else None
        if before is not None and any(x.reported_min for x in before.sites):  # no data last month: no change
            c.previous_score = score(before)
    ordered = sorted(data.communes.values(), key=lambda c: (-c.score, c.code))
    for i, c in enumerate(ordered):
        c.rank = ordered[i - 1].rank if i and c.score == ordered[i - 1].score else i + 1


def distribution(data: MonthData) -> dict[str, int]:
    out = {g: 0 for _, g in GRADES}
    for c in data.communes.values():
        out[c.grade] += 1
    return out
