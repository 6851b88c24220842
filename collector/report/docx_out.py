"""DOCX laid out per Nghị định 30/2020/NĐ-CP: national title and motto, issuing body, number and date line,
Times New Roman 13–14, A4 with the decree's margins, signature block; tables and charts inside."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from collector.report.charts import grades_png, scores_png
from collector.report.model import MonthData
from collector.report.official import Issuer
from collector.report.summary import paragraphs, weights_text
from collector.report.tables import Table, fmt

FONT = "Times New Roman"
NATIONAL_TITLE = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
HEAD_WIDTHS = (Mm(72), Mm(93))  # issuing body | national title; 165 mm between the decree's margins
MOTTO = "Độc lập - Tự do - Hạnh phúc"


def _run(par, text: str, size: float = 14, bold: bool = False, italic: bool = False):  # type: ignore[no-untyped-def]
    r = par.add_run(text)
    r.font.name = FONT
    r.font.size = Pt(size)
    r.bold, r.italic = bold, italic
    r._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)
    return r


def _cell_par(cell, text: str, size: float, bold: bool = False, italic: bool = False,  # type: ignore[no-untyped-def]
              first: bool = False):
    par = cell.paragraphs[0] if first else cell.add_paragraph()
    par.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(par, text, size, bold, italic)
    return par


def _table(doc, t: Table) -> None:  # type: ignore[no-untyped-def]
    p = doc.add_paragraph()
    _run(p, t.title, 13, bold=True)
    tbl = doc.add_table(rows=1, cols=len(t.columns))
    tbl.style = "Table Grid"
    tbl.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, (h, _) in zip(tbl.rows[0].cells, t.columns, strict=True):
        _cell_par(cell, h, 10, bold=True, first=True)
    for row in t.rows:
        cells = tbl.add_row().cells
        for cell, v, (_, k) in zip(cells, row, t.columns, strict=True):
            par = cell.paragraphs[0]
            par.alignment = WD_ALIGN_PARAGRAPH.LEFT if k == "text" else WD_ALIGN_PARAGRAPH.RIGHT
            _run(par, fmt(v, k), 10)


def write(d: MonthData, tables: list[Table], path: Path, issuer: Issuer, day: dt.date | None = None) -> Path:
    doc = Document()
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Mm(210), Mm(297)
    sec.top_margin, sec.bottom_margin, sec.left_margin, sec.right_margin = Mm(20), Mm(20), Mm(30), Mm(15)
    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(14)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)

    head = doc.add_table(rows=1, cols=2)
    head.autofit = False
    for col, width in zip(head.columns, HEAD_WIDTHS, strict=True):  # the national title fits on one line
        col.width = width
        for cell in col.cells:
            cell.width = width
    left, right = head.rows[0].cells
    _cell_par(left, issuer.parent, 12, first=True)
    _cell_par(left, issuer.body, 12, bold=True)
    _cell_par(left, issuer.number_line(), 13)
    _cell_par(right, NATIONAL_TITLE, 12, bold=True, first=True)
    _cell_par(right, MOTTO, 14, bold=True)
    _cell_par(right, issuer.date_line(day or dt.date.today()), 14, italic=True)

    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(title, "BÁO CÁO", 14, bold=True)
    sub = doc.add_paragraph()
    sub.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(sub, f"Mức sẵn sàng hạ tầng số phục vụ người dân của các xã, phường tháng {d.label}", 14, bold=True)
    for text in paragraphs(d):
        p = doc.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
        p.paragraph_format.first_line_indent = Mm(10)
        _run(p, text, 14)
    p = doc.add_paragraph()
    _run(p, "Cách tính điểm sẵn sàng", 14, bold=True)
    for text in weights_text():
        _run(doc.add_paragraph(style="List Bullet"), text, 13)
    doc.add_picture(io.BytesIO(grades_png(d)), width=Mm(160))
    doc.add_picture(io.BytesIO(scores_png(d)), width=Mm(160))
    for t in tables:
        _table(doc, t)

    sign = doc.add_table(rows=1, cols=2)
    left, right = sign.rows[0].cells
    _run(left.paragraphs[0], "Nơi nhận:", 12, bold=True, italic=True)
    for r in issuer.recipients:
        _run(left.add_paragraph(), f"- {r}", 11)
    _cell_par(right, issuer.signer_title, 14, bold=True, first=True)
    for _ in range(4):
        right.add_paragraph()
    _cell_par(right, issuer.signer_name, 14, bold=True)
    doc.save(str(path))
    return path
