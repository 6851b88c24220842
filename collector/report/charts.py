"""Bar charts as PNG (Pillow, DejaVu font for Vietnamese labels) for DOCX, PDF and HTML."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from collector.report import score
from collector.report.model import MonthData
from common import vnformat

FONT_DIRS = ("/usr/share/fonts/truetype/dejavu",)


def font_path(bold: bool = False) -> Path:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for d in FONT_DIRS:
        p = Path(d) / name
        if p.exists():
            return p
    raise FileNotFoundError(f"{name} not found (install the Debian package fonts-dejavu-core)")


def _bars(title: str, labels: list[str], values: list[float], vmax: float, graded: bool = True) -> bytes:
    w, row = 1200, 26
    h = 70 + row * max(len(labels), 1)
    img = Image.new("RGB", (w, h), "white")
    g = ImageDraw.Draw(img)
    f = ImageFont.truetype(str(font_path()), 15)
    g.text((10, 10), title, fill="black", font=ImageFont.truetype(str(font_path(True)), 18))
    left, right = 330, w - 90
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        y = 50 + i * row
        g.text((10, y + 3), lab[:40], fill="black", font=f)
        x = left + (right - left) * max(v, 0) / vmax if vmax else left
        colour = ("#2e7d32" if v >= 90 else "#f9a825" if v >= 60 else "#c62828") if graded else "#1565c0"
        g.rectangle((left, y + 2, x, y + row - 4), fill=colour)
        g.text((x + 6, y + 3), vnformat.number(float(v), 1, trim=False), fill="black", font=f)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def scores_png(d: MonthData, limit: int = 40) -> bytes:
    """Scores of the weakest ``limit`` communes (all when fewer), weakest first."""
    weakest = sorted(d.communes.values(), key=lambda c: (c.score, c.code))[:limit]
    return _bars(f"Điểm sẵn sàng tháng {d.label} (thấp nhất trước)", [c.name for c in weakest],
                 [c.score for c in weakest], 100.0)


def grades_png(d: MonthData) -> bytes:
    dist = score.distribution(d)
    return _bars(f"Phân bố xếp loại tháng {d.label} (số xã)", list(dist), [float(n) for n in dist.values()],
                 float(max(dist.values(), default=1) or 1), graded=False)
