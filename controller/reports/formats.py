"""The four report formats behind one call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from .document import Document
from .render_csv import render_csv
from .render_html import render_html
from .render_json import render_json
from .render_xlsx import render_xlsx


class Format(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    HTML = "html"
    JSON = "json"


MEDIA_TYPES = {
    Format.CSV: "text/csv; charset=utf-8",
    Format.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    Format.HTML: "text/html; charset=utf-8",
    Format.JSON: "application/json",
}
RENDERERS: dict[Format, Callable[[Document], bytes]] = {
    Format.CSV: render_csv, Format.XLSX: render_xlsx, Format.HTML: render_html,
    Format.JSON: render_json,
}


@dataclass(frozen=True)
class Rendered:
    content: bytes
    media_type: str
    filename: str


def render(document: Document, fmt: Format) -> Rendered:
    meta = document.data.meta
    unit = meta.unit_key if meta.unit_key != "*" else "all"
    name = (f"loaxa-{document.kind.value}-{unit}-{meta.period.start.isoformat()}_"
            f"{meta.period.end.isoformat()}.{fmt.value}")
    return Rendered(RENDERERS[fmt](document), MEDIA_TYPES[fmt], name)
