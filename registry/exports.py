"""Spreadsheets for people outside the registry (the CA's forms, the document and mail systems'
administrators): XLSX with openpyxl, CSV that Excel opens with Vietnamese intact, JSON, and a manifest
of SHA-256 digests. No cell can become a formula: whatever a requester typed stays text."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from registry.timeutil import display

# A spreadsheet reads a cell starting with one of these as a formula (or, for tab and CR, shifts it so
# that the next character does): OWASP's CSV injection list.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
}


def safe_text(value: Any) -> str:
    """The cell's text, with a leading apostrophe where the spreadsheet would otherwise see a formula."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        text = display(value)
    elif isinstance(value, date):
        text = display(value)
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


@dataclass(frozen=True)
class Column:
    key: str
    header: str  # Vietnamese column header
    width: int = 20


@dataclass(frozen=True)
class Sheet:
    title: str  # at most 31 characters (Excel's limit)
    columns: Sequence[Column]
    rows: Sequence[dict[str, Any]]


def xlsx(sheets: Iterable[Sheet]) -> bytes:
    """One worksheet per sheet; every value is written as text (a cell never holds a formula)."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for sheet in sheets:
        worksheet = workbook.create_sheet(sheet.title[:31])
        worksheet.append([column.header for column in sheet.columns])
        for cell in worksheet[1]:
            cell.font = Font(bold=True)
        for row in sheet.rows:
            worksheet.append([safe_text(row.get(column.key)) for column in sheet.columns])
        for index, column in enumerate(sheet.columns, start=1):
            worksheet.column_dimensions[worksheet.cell(row=1, column=index).column_letter].width = column.width
        # Text cells stay text: openpyxl writes a string starting with "=" as a formula unless told.
        for cells in worksheet.iter_rows(min_row=2):
            for cell in cells:
                if isinstance(cell.value, str):
                    cell.data_type = "s"
        worksheet.freeze_panes = "A2"
    if not workbook.worksheets:
        workbook.create_sheet("Trống")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(sheet: Sheet) -> bytes:
    """UTF-8 with a byte-order mark (so that Excel reads Vietnamese correctly) and CRLF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([column.header for column in sheet.columns])
    for row in sheet.rows:
        writer.writerow([safe_text(row.get(column.key)) for column in sheet.columns])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1, default=str).encode("utf-8")


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def manifest(files: dict[str, bytes]) -> dict[str, Any]:
    """Each file's name, size and SHA-256, for the receiver to check what arrived."""
    return {"files": [{"name": name, "bytes": len(content), "sha256": sha256(content)} for name, content in files.items()]}
