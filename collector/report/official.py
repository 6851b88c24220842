"""The issuing body and signature block of the official report (Nghị định 30/2020/NĐ-CP layout)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Issuer:
    parent: str = "UBND TỈNH PHÚ THỌ"
    body: str = "SỞ KHOA HỌC VÀ CÔNG NGHỆ"
    abbreviation: str = "SKHCN"
    place: str = "Phú Thọ"
    signer_title: str = "GIÁM ĐỐC"
    signer_name: str = ""
    recipients: tuple[str, ...] = ("UBND tỉnh (để báo cáo);", "UBND các xã, phường;", "Lưu: VT, CNTT.")

    def number_line(self) -> str:
        return f"Số:      /BC-{self.abbreviation}"

    def date_line(self, day: dt.date) -> str:
        return f"{self.place}, ngày {day.day:02d} tháng {day.month:02d} năm {day.year}"

    def header(self) -> str:
        return f"{self.parent} — {self.body}"
