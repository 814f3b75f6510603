"""CSV: one file, sections one after another, for a reviewer's spreadsheet.

UTF-8 with a byte-order mark (so Excel shows Vietnamese diacritics), the report's
title and header lines first, then each table as a section: a row with its title, a
row of headings, its rows, and an empty row. Cells are the localized text a person
reads (``95,6%``, ``2026-10-31 20:00``); the XLSX and JSON formats keep the numbers.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from . import labels
from .document import Document, Formatter, Table


def render_csv(document: Document) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    f = Formatter(document.language, document.data.meta.zone)
    writer.writerow([document.title])
    for label, value in document.meta:
        writer.writerow([label, value])
    writer.writerow([])
    for table in document.main:
        _section(writer, table, f)
    if document.details:
        writer.writerow([document.gettext(labels.TEXT["details"])])
        writer.writerow([])
        for table in document.details:
            _section(writer, table, f)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _section(writer: Any, table: Table, f: Formatter) -> None:
    writer.writerow([table.title])
    writer.writerow([c.title for c in table.columns])
    for row in table.rows:
        writer.writerow([f.value(v, c.type) for v, c in zip(row, table.columns, strict=True)])
    writer.writerow([])
