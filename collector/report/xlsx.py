"""XLSX: a summary sheet plus one sheet per indicator, real number formats, frozen bold headers."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from collector.report.model import MonthData
from collector.report.summary import paragraphs, weights_text
from collector.report.tables import Kind, Table

FORMATS: dict[Kind, str] = {"int": "#,##0", "num": "#,##0.00", "pct": "0.00", "date": "dd/mm/yyyy hh:mm", "text": "@"}


def write(d: MonthData, tables: list[Table], path: Path) -> Path:
    wb = Workbook()
    first = True
    for t in tables:
        ws = wb.active if first else wb.create_sheet()
        first = False
        assert ws is not None
        ws.title = t.sheet[:31]
        ws.append([h for h, _ in t.columns])
        for cell in ws[1]:
            cell.font = Font(bold=True)
            cell.fill = PatternFill("solid", fgColor="DDEBF7")
            cell.alignment = Alignment(wrap_text=True, vertical="center")
        for row in t.rows:
            ws.append(list(row))
        for ci, (header, kind) in enumerate(t.columns, start=1):
            letter = get_column_letter(ci)
            ws.column_dimensions[letter].width = max(12, min(40, len(header) + 2))
            for r in range(2, len(t.rows) + 2):
                ws[f"{letter}{r}"].number_format = FORMATS[kind]
        ws.freeze_panes = "A2"
        if t.rows:
            ws.auto_filter.ref = ws.dimensions
    notes = wb.create_sheet("Ghi chú")
    notes.append(["Ghi chú"])
    notes["A1"].font = Font(bold=True)
    for line in [*paragraphs(d), "Trọng số điểm sẵn sàng:", *weights_text()]:
        notes.append([line])
    notes.column_dimensions["A"].width = 150
    notes.freeze_panes = "A2"
    wb.save(path)
    return path
