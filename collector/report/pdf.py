"""PDF (fpdf2) with DejaVu Serif embedded (subset) so Vietnamese diacritics print and extract correctly."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from collector.report.charts import FONT_DIRS, grades_png, scores_png
from collector.report.model import MonthData
from collector.report.official import Issuer
from collector.report.summary import paragraphs, weights_text
from collector.report.tables import Table, fmt

NATIONAL_TITLE = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập - Tự do - Hạnh phúc"


def _font(name: str, fallback: str = "") -> str:
    """A DejaVu TTF; italics come from fonts-dejavu-extra, so fall back to the upright face without it."""
    for d in FONT_DIRS:
        for n in (name, fallback) if fallback else (name,):
            p = Path(d) / n
            if p.exists():
                return str(p)
    raise FileNotFoundError(f"{name} not found (install the Debian package fonts-dejavu-core)")


def write(d: MonthData, tables: list[Table], path: Path, issuer: Issuer, day: dt.date | None = None) -> Path:
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_margins(25, 20, 15)
    pdf.set_auto_page_break(True, 20)
    pdf.add_font("dv", "", _font("DejaVuSerif.ttf"))
    pdf.add_font("dv", "B", _font("DejaVuSerif-Bold.ttf"))
    pdf.add_font("dv", "I", _font("DejaVuSerif-Italic.ttf", "DejaVuSerif.ttf"))
    pdf.set_title(f"Báo cáo mức sẵn sàng hạ tầng số tháng {d.label}")
    pdf.add_page()
    half = (pdf.w - pdf.l_margin - pdf.r_margin) / 2
    y = pdf.get_y()
    for text, style in ((issuer.parent, ""), (issuer.body, "B"), (issuer.number_line(), "")):
        pdf.set_font("dv", style, 10)
        pdf.cell(half, 5.5, text, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(y)
    for text, style in ((NATIONAL_TITLE, "B"), (MOTTO, "B"), (issuer.date_line(day or dt.date.today()), "I")):
        pdf.set_x(pdf.l_margin + half)
        pdf.set_font("dv", style, 10)
        pdf.cell(half, 5.5, text, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font("dv", "B", 13)
    pdf.cell(0, 7, "BÁO CÁO", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 6, f"Mức sẵn sàng hạ tầng số phục vụ người dân của các xã, phường tháng {d.label}",
                   align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("dv", "", 11)
    for text in paragraphs(d):
        pdf.multi_cell(0, 5.5, text, align="J", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
    pdf.set_font("dv", "B", 11)
    pdf.cell(0, 6, "Cách tính điểm sẵn sàng", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("dv", "", 10)
    for text in weights_text():
        pdf.multi_cell(0, 5, f"• {text}", new_x="LMARGIN", new_y="NEXT")
    pdf.image(io.BytesIO(grades_png(d)), w=pdf.epw)
    pdf.image(io.BytesIO(scores_png(d)), w=pdf.epw)
    for t in tables:
        pdf.set_font("dv", "B", 11)
        pdf.multi_cell(0, 6, t.title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("dv", "", 7)
        with pdf.table(headings_style=FontFace(emphasis="BOLD", fill_color=(221, 235, 247)),
                       line_height=4, text_align="LEFT", repeat_headings=1) as tbl:
            tbl.row([h for h, _ in t.columns])
            for row in t.rows:
                tbl.row([fmt(v, k) for v, (_, k) in zip(row, t.columns, strict=True)])
        pdf.ln(3)
    pdf.ln(6)
    pdf.set_font("dv", "B", 11)
    pdf.set_x(pdf.l_margin + half)
    pdf.cell(half, 6, issuer.signer_title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(18)
    pdf.set_x(pdf.l_margin + half)
    pdf.cell(half, 6, issuer.signer_name, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path
