"""Build the monthly report: collect (this month and the previous one), score, write the formats, e-mail."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from collector.config import Inventory
from collector.report import docx_out, html, pdf, score, xlsx
from collector.report.collect import collect
from collector.report.command import FORMATS
from collector.report.influxql import Queryable
from collector.report.mail import SmtpSettings, send
from collector.report.model import MonthData
from collector.report.official import Issuer
from collector.report.period import OfficeHours, previous_month
from collector.report.progress import Progress
from collector.report.summary import paragraphs
from collector.report.tables import build


@dataclass
class ReportJob:
    year: int
    month: int
    database: str
    inventory: Inventory
    province: int = 25
    communes: list[str] | None = None
    formats: tuple[str, ...] = FORMATS
    out_dir: Path = Path("reports")
    office: OfficeHours = field(default_factory=OfficeHours)
    issuer: Issuer = field(default_factory=Issuer)
    mail_to: list[str] = field(default_factory=list)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    compare_previous: bool = True
    day: dt.date | None = None


async def produce(client: Queryable, job: ReportJob, progress: Progress | None = None) -> tuple[MonthData, list[Path]]:
    bad = [f for f in job.formats if f not in FORMATS]
    if bad:
        raise ValueError(f"unknown format(s) {bad}; choose from {', '.join(FORMATS)}")
    bar = progress or Progress(8 + 8 * job.compare_previous + len(job.formats) + bool(job.mail_to))
    data = await collect(client, job.database, job.year, job.month, job.office, job.inventory, job.province,
                         job.communes, bar.step)
    previous = None
    if job.compare_previous:
        py, pm = previous_month(job.year, job.month)
        previous = await collect(client, job.database, py, pm, job.office, job.inventory, job.province,
                                 job.communes, lambda what: bar.step(f"previous month: {what}"))
    score.apply(data, previous)
    tables = build(data)
    job.out_dir.mkdir(parents=True, exist_ok=True)
    stem = job.out_dir / f"bao-cao-san-sang-{job.year}-{job.month:02d}"
    files: list[Path] = []
    for f in job.formats:
        path = stem.with_suffix(f".{f}")
        if f == "xlsx":
            files.append(xlsx.write(data, tables, path))
        elif f == "docx":
            files.append(docx_out.write(data, tables, path, job.issuer, job.day))
        elif f == "pdf":
            files.append(pdf.write(data, tables, path, job.issuer, job.day))
        else:
            files.append(html.write(data, tables, path, job.issuer.header()))
        bar.step(f)
    if job.mail_to:
        subject = f"Báo cáo mức sẵn sàng hạ tầng số tháng {data.label} — {data.province_name}"
        await send(job.smtp, job.mail_to, subject, "\n\n".join(paragraphs(data)), files)
        bar.step("e-mail")
    return data, files
