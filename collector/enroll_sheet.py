"""Read a bulk-enrolment sheet (CSV or XLSX): one PC per row, columns commune, site, name (the PC's name),
role, and optionally id. Headers may be English or Vietnamese (``xa``/``mã xã``, ``diem``/``điểm``,
``ten may``/``tên máy``, ``vai tro``/``vai trò``, ``ma may``). Without an id column the agent id is made
from the commune code, the site and the PC name: ``08542-tru-so-chinh-mot-cua-1``.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from collector.communes_search import fold
from collector.enroll import Request
from collector.errors import ConfigError
from collector.registry import normalise_code

COLUMNS: dict[str, str] = {
    "commune": "commune", "commune code": "commune", "xa": "commune", "ma xa": "commune", "xa/phuong": "commune",
    "site": "site", "diem": "site", "dia diem": "site", "diem lam viec": "site",
    "name": "name", "pc name": "name", "pc": "name", "ten may": "name", "may": "name",
    "role": "role", "vai tro": "role",
    "id": "id", "agent id": "id", "agent_id": "id", "ma may": "id",
}
REQUIRED = ("commune", "name")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", fold(text)).strip("-")


def _rows(path: Path) -> list[list[str]]:
    if path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(path, read_only=True, data_only=True).worksheets[0]
        except Exception as exc:  # openpyxl raises many kinds for a broken file
            raise ConfigError(f"{path}: cannot read as XLSX: {exc}") from None
        return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    if path.suffix.lower() != ".csv":
        raise ConfigError(f"{path}: expected a .csv or .xlsx file")
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            return list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None


def read_sheet(path: Path) -> tuple[list[Request], list[str]]:
    """Requests from the sheet and the problems of rows that cannot become one (empty required cells).
    A sheet without the required columns raises."""
    rows = _rows(path)
    if not rows:
        raise ConfigError(f"{path}: empty sheet")
    header = [COLUMNS.get(fold(h).strip()) for h in rows[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ConfigError(f"{path}: row 1: missing column(s) {', '.join(missing)} (have: {', '.join(rows[0])})")
    out: list[Request] = []
    problems: list[str] = []
    for n, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        cells = {key: row[i].strip() for i, key in enumerate(header) if key and i < len(row)}
        empty = [c for c in REQUIRED if not cells.get(c)]
        if empty:
            problems.append(f"{path.name}: row {n}: empty {', '.join(empty)}")
            continue
        site = cells.get("site") or "main"
        code = normalise_code(cells["commune"])
        agent_id = cells.get("id") or slug(f"{code}-{site}-{cells['name']}")[:63].rstrip("-")
        out.append(Request(agent_id, code, slug(site) or "main", cells["name"], cells.get("role", ""),
                           f"{path.name}: row {n}"))
    return out, problems
