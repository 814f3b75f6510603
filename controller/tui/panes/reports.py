"""The Báo cáo (Reports) tab: uptime by village and the ministry's indicators for a
period, with charts drawn in the terminal (a bar of block characters per village, a
sparkline of the commune's availability day by day), and export to XLSX or HTML.

It reads ``GET /v1/reports/{kind}`` as JSON to draw, and asks for the same report as a
file to export, as ``loaxa report ... -o FILE`` does; the file is written where the
operator says (the console runs on the operator's machine).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Label, Select, Static

from controller.i18n import N_, _, current_language

from ..connection import ApiError
from ..forms.common import (
    NONE,
    bar,
    cell,
    localise,
    percent,
    show_refusal,
    tell,
)
from ..forms.transfer import download
from ..table import Table
from .base import Pane

KINDS = {"uptime": N_("Uptime by village"), "indicators": N_("Indicators 1 and 2")}
EXPORTS = {".xlsx": "xlsx", ".html": "html", ".htm": "html"}
BAR_WIDTH = 20
CONTENT_WIDTH = 44
SPARKS = "▁▂▃▄▅▆▇█"


def daily_availability(report: dict[str, Any]) -> list[float]:
    """The mean availability of the commune's agents, day by day (for the sparkline)."""
    by_day: dict[str, list[float]] = defaultdict(list)
    for row in report.get("days") or []:
        if row.get("availability") is not None:
            by_day[str(row["day"])].append(float(row["availability"]))
    return [sum(values) / len(values) for _day, values in sorted(by_day.items())]


def spark(values: list[float]) -> str:
    """Shares (0 to 1) as a line of block characters, one a day, on an absolute scale:
    ``▁`` is nothing, ``█`` is all of the service window."""
    last = len(SPARKS) - 1
    return "".join(SPARKS[round(max(0.0, min(1.0, v)) * last)] for v in values)


class ReportsPane(Pane):
    TITLE = N_("Reports")
    KEY = "reports"
    DEFAULT_CSS = """
    ReportsPane #report-query, ReportsPane #report-export {
        height: 1;
    }
    ReportsPane #report-query > Label, ReportsPane #report-export > Label {
        padding: 0 1;
    }
    ReportsPane #report-kind {
        width: 26;
    }
    ReportsPane #report-from, ReportsPane #report-to {
        width: 12;
    }
    ReportsPane #report-path {
        width: 1fr;
    }
    ReportsPane #report-summary {
        height: 1;
        color: $text-muted;
    }
    ReportsPane #report-table {
        height: 1fr;
    }
    ReportsPane #report-days {
        height: auto;
        max-height: 2;
    }
    ReportsPane .hidden {
        display: none;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("v", "show_report", N_("Show")),
        Binding("e", "focus_export", N_("Export")),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        localise(self)
        self.report: dict[str, Any] | None = None
        self.today: dt.date | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="report-query"):
            yield Select([(_(label), kind) for kind, label in KINDS.items()],
                         value="uptime", allow_blank=False, compact=True, id="report-kind")
            yield Label(_("from"))
            yield Input(compact=True, placeholder=_("YYYY-MM-DD"), id="report-from")
            yield Label(_("to"))
            yield Input(compact=True, placeholder=_("YYYY-MM-DD"), id="report-to")
        yield Static("", id="report-summary")
        table: Table[Text] = Table(id="report-table", cursor_type="row")
        yield table
        yield Static("", id="report-days")
        with Horizontal(id="report-export"):
            yield Label(_("Export to"))
            yield Input(compact=True, placeholder=_("a file ending in .xlsx or .html "
                                                    "(Enter)"), id="report-path")

    # ------------------------------------------------------------------ showing
    async def reload(self) -> None:
        if not self.commune:
            return
        if self.today is None:
            try:
                day = await self.connection.call("GET", f"/communes/{self.commune}/timeline")
            except ApiError as error:
                if not error.unreachable:
                    show_refusal(self, error)
                return
            self.today = dt.date.fromisoformat(str(day["day"]))
            for field_id in ("#report-from", "#report-to"):
                field = self.query_one(field_id, Input)
                if not field.value:
                    field.value = self.today.isoformat()
        await self.show_report()

    def focus_main(self) -> None:
        self.query_one("#report-table", DataTable).focus()

    def period(self) -> tuple[str, str] | None:
        texts = [self.query_one(f"#report-{end}", Input).value.strip()
                 for end in ("from", "to")]
        try:
            first, last = (dt.date.fromisoformat(t) for t in texts)
        except ValueError:
            tell(self, _("Write the date as YYYY-MM-DD, e.g. 2026-12-01."),
                 severity="warning")
            return None
        if last < first:
            tell(self, _("The period ends before it starts."), severity="warning")
            return None
        return first.isoformat(), last.isoformat()

    def kind(self) -> str:
        return str(self.query_one("#report-kind", Select).value)

    async def show_report(self) -> None:
        period = self.period()
        if period is None:
            return
        try:
            report = await self.connection.call("GET", f"/reports/{self.kind()}", params={
                "from": period[0], "to": period[1], "unit": self.commune,
                "format": "json", "lang": current_language()})
        except ApiError as error:
            if not error.unreachable:
                show_refusal(self, error)
            return
        self.report = report if isinstance(report, dict) else None
        self.draw()

    def draw(self) -> None:
        report = self.report or {}
        definition = report.get("definition") or {}
        self.query_one("#report-summary", Static).update(Text(
            _("Definition {version}; service window {window}").format(
                version=definition.get("version", NONE),
                window=definition.get("service_window", NONE))))
        table = self.query_one("#report-table", DataTable)
        table.clear(columns=True)
        if report.get("report") == "indicators":
            table.add_column(_("No."), key="stt")
            table.add_column(_("Indicator"), key="content", width=CONTENT_WIDTH)
            table.add_column(_("Value"), key="value")
            for line in report.get("indicators") or []:
                table.add_row(cell(line.get("stt")), cell(line.get("content")),
                              cell(line.get("display")))
        else:
            table.add_column(_("Village"), key="village")
            table.add_column(_("Availability"), key="bar")
            table.add_column(_("Reached"), key="reached")
            for village in report.get("villages") or []:
                share = village.get("best_availability")
                shown = Text(bar(share, BAR_WIDTH),
                             style="green" if village.get("reached") else "red")
                shown.append(f" {percent(share)}")
                table.add_row(cell(village.get("name")), shown,
                              cell(_("yes") if village.get("reached") else _("no")))
            if not report.get("villages"):
                table.add_row(Text(_("No villages in this commune.")))
        days = daily_availability(report)
        chart = Text(_("Availability of the commune, day by day:") + " ")
        if days:
            chart.append(spark(days), style="bold green")
            chart.append(f" {percent(min(days))} – {percent(max(days))}")
        else:  # e.g. today before the service window opens: say so, do not just vanish
            chart.append(_("no service window has begun yet."), style="dim")
        self.query_one("#report-days", Static).update(chart)
        self.query_one("#report-days").set_class(report.get("report") == "indicators",
                                                 "hidden")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "report-path":
            self.run_worker(self.export(event.value), group="report-export",
                            exclusive=True)
        else:
            self.action_show_report()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "report-kind" and self.today is not None:
            self.action_show_report()

    # ------------------------------------------------------------------ actions
    def action_show_report(self) -> None:
        self.run_worker(self.show_report(), group="report-show", exclusive=True)

    def action_focus_export(self) -> None:
        self.query_one("#report-path", Input).focus()

    async def export(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        path = Path(text).expanduser()
        fmt = EXPORTS.get(path.suffix.lower())
        if fmt is None:
            tell(self, _("Give a file name ending in .xlsx (spreadsheet) or .html (web "
                         "page)."), severity="warning")
            return
        period = self.period()
        if period is None:
            return
        try:
            content = await download(self.connection, f"/reports/{self.kind()}", {
                "from": period[0], "to": period[1], "unit": self.commune, "format": fmt,
                "lang": current_language()})
        except ApiError as error:
            show_refusal(self, error)
            return
        try:
            path.write_bytes(content)
        except OSError as error:
            tell(self, _("Cannot write {path}: {error}").format(
                path=path, error=error.strerror or error), severity="error")
            return
        tell(self, _("Report written to {path}").format(path=path))
