"""The Báo cáo tab against a real controller: uptime by village drawn as bars, the
indicators, and the same reports exported to XLSX (read back with openpyxl) and HTML."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from textual.widgets import DataTable, Input, Select, Static

from controller import i18n
from controller.tui.panes.devices import DevicesPane
from controller.tui.panes.reports import ReportsPane, daily_availability, spark
from controller.tui.widgets import NumberPrompt
from tests.tui.conftest import drive, until
from tests.tui.workflow_support import DATE, Commune, assert_snapshot, furnish

KEY = "xa-bao-cao"


@pytest.fixture(scope="module")
def commune(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Commune:
    return furnish(request, tmp_path_factory, KEY, "Xã Báo Cáo")


def messages(app: Any, severity: str | None = None) -> list[str]:
    return [n.message for n in app._notifications
            if severity is None or n.severity == severity]


async def open_reports(pilot: Any) -> ReportsPane:
    app = pilot.app
    await until(pilot, lambda: app.connection.online and bool(app.username))
    await pilot.press("5")
    pane = app.query_one(ReportsPane)
    await until(pilot, lambda: pane.report is not None, 30, "the report")
    return pane


def cells(app: Any) -> list[list[str]]:
    table = app.query_one("#report-table", DataTable)
    return [[str(c) for c in table.get_row_at(n)] for n in range(table.row_count)]


async def export(pilot: Any, path: Path) -> None:
    await pilot.press("e")
    field = pilot.app.query_one("#report-path", Input)
    await until(pilot, lambda: field.has_focus)
    field.value = str(path)
    pilot.app.clear_notifications()
    await pilot.press("enter")
    await until(pilot, lambda: bool(messages(pilot.app)), 30, "the export")


def test_uptime_by_village_as_bars(commune: Commune) -> None:
    async def scenario() -> None:
        app = commune.console()
        async with app.run_test(size=(80, 24)) as pilot:
            pane = await open_reports(pilot)
            today = app.query_one("#report-from", Input).value
            assert app.query_one("#report-to", Input).value == today
            assert pane.report is not None and pane.report["report"] == "uptime"
            rows = cells(app)
            assert sorted(r[0] for r in rows) == ["Thôn Hai", "Thôn Một"]
            assert all(r[1] == "░" * 20 + " 0,0%" and r[2] == "không" for r in rows)
            # Today's day-by-day line depends on the hour (before 04:30 in Vietnam no
            # window has begun): the snapshot is taken of tomorrow, the same at any hour.
            assert pane.today is not None
            tomorrow = (pane.today + dt.timedelta(days=1)).isoformat()
            for field_id in ("#report-from", "#report-to"):
                app.query_one(field_id, Input).value = tomorrow
            pane.action_show_report()
            await until(pilot, lambda: (pane.report or {}).get("period", {}).get("from")
                        == tomorrow, 30, "tomorrow's report")
            chart = str(app.query_one("#report-days", Static).render())
            assert chart.endswith("chưa có khung giờ phục vụ nào bắt đầu."), chart
            await assert_snapshot(pilot, "reports", [DATE])

    drive(scenario)


def test_the_indicators_and_both_exports(commune: Commune, tmp_path: Path) -> None:
    async def scenario() -> None:
        app = commune.console()
        async with app.run_test(size=(80, 24)) as pilot:
            pane = await open_reports(pilot)
            app.query_one("#report-kind", Select).value = "indicators"
            await until(pilot, lambda: (pane.report or {}).get("report") == "indicators",
                        30, "the indicators")
            rows = cells(app)
            assert [r[0] for r in rows][:2] == ["1", "1.1"]
            assert "chỉ tiêu 1" in rows[0][1] and rows[1][2] == "0,0% (0/2)"

            await export(pilot, tmp_path / "chi-tieu.xlsx")
            assert messages(app) == [f"Đã ghi báo cáo vào {tmp_path / 'chi-tieu.xlsx'}"]
            book = load_workbook(tmp_path / "chi-tieu.xlsx", read_only=True)
            text = " ".join(str(value) for sheet in book.worksheets
                            for row in sheet.iter_rows(values_only=True)
                            for value in row if value is not None)
            assert "Xã Báo Cáo" in text and "chỉ tiêu 1" in text

            app.query_one("#report-kind", Select).value = "uptime"
            await until(pilot, lambda: (pane.report or {}).get("report") == "uptime", 30)
            await export(pilot, tmp_path / "hoat-dong.html")
            page = (tmp_path / "hoat-dong.html").read_text(encoding="utf-8")
            assert page.lstrip().lower().startswith("<!doctype html")
            assert "Thôn Một" in page and "Thôn Hai" in page

            await export(pilot, tmp_path / "bao-cao.pdf")
            assert ".xlsx" in messages(app, "warning")[0]
            assert not (tmp_path / "bao-cao.pdf").exists()
            await export(pilot, tmp_path / "khong-co" / "bao-cao.html")
            assert "Không ghi được" in messages(app, "error")[0]

    drive(scenario)


def test_a_period_the_commune_did_not_exist_in_is_the_controller_s_refusal(
        commune: Commune) -> None:
    async def scenario() -> None:
        app = commune.console()
        async with app.run_test(size=(80, 24)) as pilot:
            await open_reports(pilot)
            app.query_one("#report-from", Input).value = "2001-01-01"
            app.query_one("#report-to", Input).value = "2001-01-31"
            app.query_one("#report-from", Input).focus()
            await pilot.press("enter")
            await until(pilot, lambda: bool(messages(app, "error")), 30)
            assert "xa-bao-cao" in messages(app, "error")[0]
            app.query_one("#report-to", Input).value = "2000-12-31"
            app.clear_notifications()
            await pilot.press("enter")
            await until(pilot, lambda: bool(messages(app, "warning")))

    drive(scenario)


def test_the_daily_chart_averages_the_agents() -> None:
    report = {"days": [{"day": "2026-11-02", "availability": 0.5},
                       {"day": "2026-11-01", "availability": 1.0},
                       {"day": "2026-11-02", "availability": 1.0},
                       {"day": "2026-11-03", "availability": None}]}
    assert daily_availability(report) == [1.0, 0.75]
    assert spark([0.0, 0.5, 1.0, 1.2]) == "▁▅██"


def keys(app: Any) -> set[str]:
    """The descriptions of the keys the footer offers now."""
    return {b.binding.description for b in app.screen.active_bindings.values()}


def test_in_english_when_asked(commune: Commune) -> None:
    """LOAXA_LANG=en (here: the language set for the process) gives English screens."""
    async def scenario() -> None:
        app = commune.console(language="en")
        async with app.run_test(size=(80, 24)) as pilot:
            await open_reports(pilot)
            table = app.query_one("#report-table", DataTable)
            assert [str(c.label) for c in table.columns.values()] == [
                "Village", "Availability", "Reached"]
            assert cells(app)[0][2] == "no"
            await pilot.press("4")
            await until(pilot, lambda: "No emergency on the air" in str(
                app.query_one("#emergency-banner").render()))
            assert {"Start emergency", "Stop emergency", "Acknowledge"} <= keys(app)
            # The app's own keys, and those of the panes and dialogs translated when
            # shown (not when their module was imported, in Vietnamese)
            await pilot.press("1")
            await until(pilot, lambda: {"Quit", "Reload", "Agent details"} <= keys(app),
                        what="the overview's keys in English")
            await pilot.press("6")
            await until(pilot, lambda: {"Set volume", "Reboot agent", "Enrol agent",
                                        "Quit"} <= keys(app),
                        what="the devices' keys in English")
            pane = app.query_one(DevicesPane)
            await until(pilot, lambda: pane.agent is not None, what="an agent")
            await pilot.press("v")
            await until(pilot, lambda: isinstance(app.screen, NumberPrompt))
            assert "Go back" in keys(app)
            assert not {"Thoát", "Âm lượng", "Quay lại"} & keys(app)

    i18n.set_language("en")
    try:
        drive(scenario)
    finally:
        i18n.set_language(None)
