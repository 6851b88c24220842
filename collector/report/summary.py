"""Province summary in Vietnamese sentences: distribution, weakest/strongest, incidents, communes without agent."""

from __future__ import annotations

from collector.report import score
from collector.report.model import MonthData
from collector.report.tables import fmt


def paragraphs(d: MonthData) -> list[str]:
    ranked = d.ranked()
    dist = score.distribution(d)
    out = [
        f"Báo cáo đánh giá mức sẵn sàng hạ tầng số của {len(ranked)} xã, phường thuộc tỉnh {d.province_name} "
        f"trong tháng {d.label}, tính trong giờ hành chính ({fmt(d.office_min, 'int')} phút, không kể ngày nghỉ, "
        f"ngày lễ và thời gian bảo trì đã khai báo). Nguồn dữ liệu: {d.source_note}.",
        "Phân bố xếp loại: " + "; ".join(f"{g}: {n} xã" for g, n in dist.items()) + ".",
    ]
    if ranked:
        top = ", ".join(f"{c.name} ({fmt(c.score, 'num')} điểm)" for c in ranked[:3])
        low = ", ".join(f"{c.name} ({fmt(c.score, 'num')} điểm)" for c in ranked[-3:][::-1])
        out.append(f"Các xã có mức sẵn sàng cao nhất: {top}. Các xã cần ưu tiên hỗ trợ: {low}.")
    if d.province_incidents:
        inc = "; ".join(f"{i.alertname} {i.service} ({fmt(i.duration_min, 'num')} phút, {i.communes} xã)"
                        for i in d.province_incidents)
        out.append(f"Sự cố toàn tỉnh: {len(d.province_incidents)} sự cố — {inc}.")
    else:
        out.append("Không ghi nhận sự cố toàn tỉnh.")
    none = [c.name for c in ranked if c.sites_reporting == 0]
    out.append(f"Xã chưa có agent báo cáo ({len(none)}): " + (", ".join(none) if none else "không có") + ".")
    expiring = sum(len(c.expiring) for c in ranked)
    out.append(f"Chứng thư số hết hạn trong tháng sau: {expiring}.")
    return out


def weights_text() -> list[str]:
    lines = [f"{w} điểm — {desc}" for _, w, desc in score.WEIGHTS]
    grades = ", ".join(f"{g} từ {fmt(lo, 'num')}" for lo, g in score.GRADES)
    lines.append(f"Điểm sẵn sàng = tổng có trọng số của các thành phần (mỗi thành phần 0–100). Xếp loại: {grades}. "
                 "Thiếu dữ liệu được tính 0. Xếp hạng: cùng điểm cùng hạng.")
    return lines
