"""XLSX: the report on its first sheet, one sheet per detail table (the drill-down).

openpyxl's write-only mode streams rows to disk, so a province-year export with
millions of detail rows is written in constant memory. Numbers stay numbers: shares
with a percent format, durations in hours, times as local datetimes, so reviewers can
filter, sort and sum in their spreadsheet.
"""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from . import labels
from .document import ColumnType, Document, IndicatorLine, Table

FORMATS = {ColumnType.SHARE: "0.0%", ColumnType.HOURS: "0.00",
           ColumnType.DATETIME: "yyyy-mm-dd hh:mm", ColumnType.DATE: "yyyy-mm-dd"}
MAX_SHEET_ROWS = 1_048_575  # Excel's limit, less the heading row
BOLD = Font(bold=True)


def sheet_name(title: str, taken: set[str]) -> str:
    """Excel limits: 31 characters, none of ``[]:*?/\\``, unique."""
    clean = "".join("-" if ch in "[]:*?/\\" else ch for ch in title)[:31]
    name, n = clean, 2
    while name in taken:
        suffix = f" ({n})"
        name, n = clean[:31 - len(suffix)] + suffix, n + 1
    taken.add(name)
    return name


def render_xlsx(document: Document) -> bytes:
    book = Workbook(write_only=True)
    taken: set[str] = set()
    first = book.create_sheet(sheet_name(document.title, taken))
    _cover(first, document)
    for table in (document.main if not _has_indicators(document) else document.main[1:]):
        _sheet(book.create_sheet(sheet_name(table.title, taken)), table)
    for table in document.details:
        _sheet(book.create_sheet(sheet_name(table.title, taken)), table)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _has_indicators(document: Document) -> bool:
    return bool(document.main) and document.main[0].key == "indicators"


def _cover(sheet: WriteOnlyWorksheet, document: Document) -> None:
    sheet.column_dimensions["A"].width = 10
    sheet.column_dimensions["B"].width = 70
    sheet.column_dimensions["C"].width = 22
    sheet.append([_bold(sheet, document.title)])
    for label, value in document.meta:
        sheet.append([label, value])
    sheet.append([])
    if not _has_indicators(document):
        sheet.append([document.gettext(labels.TEXT["drill_note"])])
        return
    table = document.main[0]
    sheet.append([_bold(sheet, c.title) for c in table.columns])
    for line in document.lines:
        sheet.append([line.stt, _wrap(sheet, line.content), _indicator_cell(sheet, line)])
    sheet.append([])
    sheet.append([document.gettext(labels.TEXT["drill_note"])])
    drill = document.gettext(labels.COLUMNS["drill"])
    titles = {t.key: t.title for t in [*document.main, *document.details]}
    for line in document.lines:
        if line.drill and line.drill in titles:
            sheet.append([line.stt, f"{drill}: {titles[line.drill]}"])


def _indicator_cell(sheet: WriteOnlyWorksheet, line: IndicatorLine) -> Any:
    if isinstance(line.value, bool) or line.value is None:
        return line.display
    cell = WriteOnlyCell(sheet, value=line.value)
    if isinstance(line.value, float):
        cell.number_format = "0.0%"
    return cell


def _sheet(sheet: WriteOnlyWorksheet, table: Table) -> None:
    sheet.freeze_panes = "A2"
    sheet.append([_bold(sheet, c.title) for c in table.columns])
    formats = [FORMATS.get(c.type) for c in table.columns]
    for count, row in enumerate(table.rows):
        if count >= MAX_SHEET_ROWS:
            break
        cells: list[Any] = []
        for value, number_format in zip(row, formats, strict=True):
            if number_format is None or value is None:
                cells.append(value)
            else:
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = number_format
                cells.append(cell)
        sheet.append(cells)


def _bold(sheet: WriteOnlyWorksheet, value: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    cell.font = BOLD
    return cell


def _wrap(sheet: WriteOnlyWorksheet, value: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    cell.alignment = Alignment(wrap_text=True, vertical="top")
    return cell
