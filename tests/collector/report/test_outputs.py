"""The files open and carry the figures: XLSX (openpyxl), DOCX (python-docx), PDF (pdftotext), HTML; e-mail."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

import docx
import openpyxl
import pytest

from collector.config import Inventory
from collector.influx import V1Writer
from collector.report.mail import SmtpSettings
from collector.report.model import MonthData
from collector.report.official import Issuer
from collector.report.period import OfficeHours
from collector.report.progress import Progress
from collector.report.run import ReportJob, produce
from tests.support import report_seed as s
from tests.support.services import need_binary
from tests.support.smtp import smtp_sink

CODES = [s.A, s.B, s.C]
NAMES = ["Phường Việt Trì", "Phường Nông Trang", "Phường Thanh Miếu"]


async def _run(*cmd: str) -> bytes:
    done = await asyncio.to_thread(subprocess.run, list(cmd), check=True, capture_output=True, timeout=180)
    return done.stdout


def _artifacts(tmp_path: Path) -> Path:
    """Where renders are kept for a human to look at (REPORT_ARTIFACTS, else the test's tmp dir)."""
    out = Path(os.environ.get("REPORT_ARTIFACTS", tmp_path / "artifacts"))
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture
async def produced(client: V1Writer, office: OfficeHours, inventory: Inventory,
                   tmp_path: Path) -> tuple[MonthData, dict[str, Path]]:
    job = ReportJob(s.YEAR, s.MONTH, client.cfg.database, inventory, 25, CODES, out_dir=tmp_path / "out",
                    office=office, issuer=Issuer(signer_name="Trần Văn Hùng"), day=dt.date(2026, 11, 2))
    data, files = await produce(client, job, Progress(1, enabled=False))
    return data, {f.suffix[1:]: f for f in files}


async def test_xlsx_has_sheets_formats_frozen_headers_and_figures(produced: tuple[MonthData, dict[str, Path]]) -> None:
    data, files = produced
    wb = openpyxl.load_workbook(files["xlsx"])
    assert wb.sheetnames[:3] == ["Tổng hợp", "Kết nối", "Cổng dịch vụ"] and "Chứng thư sắp hết hạn" in wb.sheetnames
    ws = wb["Kết nối"]
    assert ws.freeze_panes == "A2"
    rows = {(r[0], r[2]): r for r in ws.iter_rows(min_row=2, values_only=True)}
    main = rows[(s.A, "tru-so-chinh")]
    assert main[3:7] == (9330, 8250, 1080, 0)
    assert rows[(s.B, "tru-so-chinh")][6] == 2250
    assert ws["H2"].number_format == "0.00" and ws["D2"].number_format == "#,##0"
    summary = {r[1]: r for r in wb["Tổng hợp"].iter_rows(min_row=2, values_only=True)}
    assert summary[s.A][2] == "Phường Việt Trì" and summary[s.A][3] == data.communes[s.A].score == 88.9
    (cert,) = list(wb["Chứng thư sắp hết hạn"].iter_rows(min_row=2, values_only=True))
    assert cert[2:4] == ("tok-a1", "Nguyễn Văn An") and cert[5] == dt.datetime(2026, 11, 10, 10, 0)


async def test_docx_official_layout_and_vietnamese_round_trip(produced: tuple[MonthData, dict[str, Path]]) -> None:
    _, files = produced
    d = docx.Document(str(files["docx"]))
    head = d.tables[0]
    left = [p.text for p in head.rows[0].cells[0].paragraphs]
    right = [p.text for p in head.rows[0].cells[1].paragraphs]
    assert left == ["UBND TỈNH PHÚ THỌ", "SỞ KHOA HỌC VÀ CÔNG NGHỆ", "Số:      /BC-SKHCN"]
    assert right == ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
                     "Phú Thọ, ngày 02 tháng 11 năm 2026"]
    bold = [r.bold for p in head.rows[0].cells[1].paragraphs[:2] for r in p.runs]
    assert bold == [True, True]
    sizes = {r.font.size.pt for p in d.paragraphs for r in p.runs if r.text and r.font.size}
    fonts = {r.font.name for p in d.paragraphs for r in p.runs if r.text}
    assert fonts == {"Times New Roman"} and sizes <= {13.0, 14.0}
    text = "\n".join(p.text for p in d.paragraphs)
    assert "BÁO CÁO" in text and "Cách tính điểm sẵn sàng" in text
    cells = {c.text for t in d.tables for row in t.rows for c in row.cells}
    assert set(NAMES) <= cells and "Nguyễn Văn An" in cells
    sign = [p.text for p in d.tables[-1].rows[0].cells[1].paragraphs]
    assert sign[0] == "GIÁM ĐỐC" and sign[-1] == "Trần Văn Hùng"
    assert len(d.inline_shapes) == 2  # the two charts


async def test_libreoffice_renders_every_format_and_first_pages_are_kept_as_png(
        produced: tuple[MonthData, dict[str, Path]], tmp_path: Path) -> None:
    """DOCX, HTML and XLSX through LibreOffice headless to PDF (a private profile, so parallel runs don't
    share one), then page 1 of those and of the report's own PDF to PNG in the artifact folder; the DOCX's
    LibreOffice PDF still carries the Vietnamese names."""
    need_binary("soffice")
    need_binary("pdftoppm")
    _, files = produced
    out = _artifacts(tmp_path)
    src = tmp_path / "lo-in"
    src.mkdir()
    inputs = [shutil.copyfile(files[ext], src / f"report-{ext}.{ext}") for ext in ("docx", "html", "xlsx")]
    soffice = [shutil.which("soffice") or "soffice", f"-env:UserInstallation={(tmp_path / 'lo-profile').as_uri()}",
               "--headless"]
    await _run(*soffice, "--convert-to", "pdf", "--outdir", str(out), str(inputs[0]), str(inputs[2]))
    # HTML through Writer's own import: Writer/Web (the default for .html) leaves page 1 blank
    await _run(*soffice, "--infilter=HTML (StarWriter)", "--convert-to", "pdf:writer_pdf_Export", "--outdir", str(out),
               str(inputs[1]))
    pdfs = {ext: out / f"report-{ext}.pdf" for ext in ("docx", "html", "xlsx")} | {"pdf": files["pdf"]}
    for ext, pdf in pdfs.items():
        assert pdf.read_bytes().startswith(b"%PDF"), ext
        await _run("pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                   str(out / f"page1-{ext}"))
        png = out / f"page1-{ext}.png"
        assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 8_000, (ext, png.stat().st_size)
    text = (await _run("pdftotext", "-layout", str(pdfs["docx"]), "-")).decode()
    for name in [*NAMES, "SỞ KHOA HỌC VÀ CÔNG NGHỆ", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
                 "Trần Văn Hùng"]:  # -layout: the header lines are not wrapped
        assert name in text, name


async def test_pdf_text_has_diacritics_and_first_page_renders(produced: tuple[MonthData, dict[str, Path]],
                                                              tmp_path: Path) -> None:
    _, files = produced
    raw = files["pdf"].read_bytes()
    assert raw.startswith(b"%PDF") and b"/FontFile2" in raw  # the TTF is embedded
    text = (await _run("pdftotext", "-layout", str(files["pdf"]), "-")).decode()
    for name in [*NAMES, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "Nguyễn Văn An"]:
        assert name in text
    out = _artifacts(tmp_path)
    await _run("pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(files["pdf"]), str(out / "report-pdf"))
    assert list(out.glob("report-pdf*.png"))


async def test_html_is_self_contained_utf8(produced: tuple[MonthData, dict[str, Path]]) -> None:
    _, files = produced
    page = files["html"].read_text(encoding="utf-8")
    assert '<html lang="vi">' in page and "data:image/png;base64," in page
    assert all(n in page for n in NAMES)
    assert "1.080,00" in page  # Việt Trì's down minutes, Vietnamese number format


async def test_report_is_mailed_with_attachments(client: V1Writer, office: OfficeHours, inventory: Inventory,
                                                 tmp_path: Path) -> None:
    with smtp_sink() as sink:
        job = ReportJob(s.YEAR, s.MONTH, client.cfg.database, inventory, 25, [s.A], ("xlsx", "pdf"),
                        tmp_path, office, mail_to=["lanhdao@phutho.gov.vn", "cntt@phutho.gov.vn"],
                        smtp=SmtpSettings("127.0.0.1", sink.port), compare_previous=False)
        await produce(client, job, Progress(1, enabled=False))
        (mail,) = sink.to("cntt@phutho.gov.vn")
    assert sorted(mail.to) == ["cntt@phutho.gov.vn", "lanhdao@phutho.gov.vn"]
    assert mail.subject == "Báo cáo mức sẵn sàng hạ tầng số tháng 10/2026 — Phú Thọ"
    assert "Phường Việt Trì" in mail.body
    names = sorted(p.get_filename() for p in mail.message.iter_attachments())
    assert names == ["bao-cao-san-sang-2026-10.pdf", "bao-cao-san-sang-2026-10.xlsx"]
