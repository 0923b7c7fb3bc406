"""XLSX workbooks (openpyxl): sheets of text cells out, and sheets of rows back in.

Every cell is written as text or a number, never a formula, so a cell starting with "="
is shown, not run. Reading refuses formulas (their value is whatever the spreadsheet last
computed, or nothing) and gives every cell back as the text it shows."""

import io
import re
import zipfile
from datetime import date, datetime

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from tracker.exchange.csvfile import normalise_cell

FIXED_TIME = datetime(2000, 1, 1)  # workbook properties: the same file for the same content
MAX_WIDTH = 60


class SheetError(ValueError):
    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


def _cell_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    text = "" if value is None else str(value)
    return ILLEGAL_CHARACTERS_RE.sub("", text)  # control characters XLSX cannot hold


def workbook_bytes(sheets: list[tuple[str, list[str], list[list]]]) -> bytes:
    """One sheet per (title, header, rows): a bold header row frozen in view."""
    wb = Workbook()
    wb.remove(wb.active)
    wb.properties.created = wb.properties.modified = FIXED_TIME
    wb.properties.creator = "Readiness Tracker"
    for title, header, rows in sheets:
        ws = wb.create_sheet(_sheet_title(title, wb.sheetnames))
        ws.append(header)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in rows:
            ws.append([_cell_value(v) for v in row])
        for cells in ws.iter_rows(min_row=2):
            for cell in cells:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # text, even when it starts with "="
                    if "\n" in cell.value:
                        cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.freeze_panes = "A2"
        for n, name in enumerate(header, 1):
            longest = max([len(str(name))] + [len(str(r[n - 1]).split("\n")[0])
                                              for r in rows[:200] if n - 1 < len(r)])
            ws.column_dimensions[get_column_letter(n)].width = min(MAX_WIDTH, longest + 2)
    out = io.BytesIO()
    wb.save(out)
    return _fixed_zip_times(out.getvalue())


def _fixed_zip_times(data: bytes) -> bytes:
    """The same workbook for the same content: zip entries stamped with a fixed time
    instead of the second they were written."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dest:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            fixed.compress_type, fixed.external_attr = zipfile.ZIP_DEFLATED, info.external_attr
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps `modified` on save
                body = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2000-01-01T00:00:00Z",
                              body)
            dest.writestr(fixed, body)
    return out.getvalue()


def _sheet_title(title: str, taken: list[str]) -> str:
    clean = "".join("-" if ch in "[]:*?/\\" else ch for ch in title)[:31] or "Sheet"
    name, n = clean, 2
    while name in taken:
        name, n = f"{clean[:28]} {n}", n + 1
    return name


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return normalise_cell(str(value))


def read_sheets(data: bytes) -> list[tuple[str, list[tuple[int, list[str]]]]]:
    """Each sheet's (line, cells) rows, every cell as text. Raises SheetError."""
    try:
        wb = load_workbook(io.BytesIO(data), data_only=False)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise SheetError("not an XLSX workbook: save it as “Excel Workbook (.xlsx)” (an "
                         "older .xls, or a CSV renamed .xlsx, cannot be read)") from None
    sheets = []
    for ws in wb.worksheets:
        rows = []
        for cells in ws.iter_rows():
            for cell in cells:
                if cell.data_type == "f":
                    raise SheetError(f"cell {cell.coordinate} of sheet “{ws.title}” is a "
                                     f"formula ({str(cell.value)[:40]}); library cells are "
                                     "text: type the text itself, or start it with an "
                                     "apostrophe", cell.row)
            rows.append((cells[0].row if cells else len(rows) + 1,
                         [_text(c.value) for c in cells]))
        sheets.append((ws.title, rows))
    return sheets
