"""HTML: one self-contained page (charts inline as data: URIs)."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from collector.report.charts import grades_png, scores_png
from collector.report.model import MonthData
from collector.report.summary import paragraphs, weights_text
from collector.report.tables import Table, fmt

STYLE = """body{font-family:"Times New Roman",serif;max-width:1200px;margin:2em auto;font-size:14px}
table{border-collapse:collapse;margin:1em 0;width:100%}th,td{border:1px solid #999;padding:3px 6px}
th{background:#ddebf7;position:sticky;top:0}td.n{text-align:right}img{max-width:100%}"""


def render(d: MonthData, tables: list[Table], issuer: str) -> str:
    def img(png: bytes, alt: str) -> str:
        return f'<img alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'

    parts = [f'<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><title>Báo cáo tháng {d.label}</title>'
             f"<style>{STYLE}</style></head><body>",
             f"<p>{escape(issuer)}</p><h1>BÁO CÁO MỨC SẴN SÀNG HẠ TẦNG SỐ CẤP XÃ THÁNG {d.label}</h1>"]
    parts += [f"<p>{escape(p)}</p>" for p in paragraphs(d)]
    parts.append("<h2>Cách tính điểm</h2><ul>" + "".join(f"<li>{escape(x)}</li>" for x in weights_text()) + "</ul>")
    parts.append(img(grades_png(d), "Phân bố xếp loại") + img(scores_png(d), "Điểm sẵn sàng"))
    for t in tables:
        parts.append(f"<h2>{escape(t.title)}</h2><table><thead><tr>"
                     + "".join(f"<th>{escape(h)}</th>" for h, _ in t.columns) + "</tr></thead><tbody>")
        for row in t.rows:
            cells = "".join(f'<td class="{"" if k == "text" else "n"}">{escape(fmt(v, k))}</td>'
                            for v, (_, k) in zip(row, t.columns, strict=True))
            parts.append(f"<tr>{cells}</tr>")
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write(d: MonthData, tables: list[Table], path: Path, issuer: str) -> Path:
    path.write_text(render(d, tables, issuer), encoding="utf-8")
    return path
