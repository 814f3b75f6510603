"""SVG snapshots of Tổng quan at 80×24, on a commune frozen in time (tests/tui/fakes.py):
the same screen on every run. ``LOAXA_UPDATE_SNAPSHOTS=1`` accepts an intended change."""

from __future__ import annotations

from controller.tui import LoaxaConsole
from controller.tui.panes.overview import OverviewPane
from tests.tui.conftest import drive, until
from tests.tui.fakes import NOW, FrozenConnection
from tests.tui.workflow_support import assert_snapshot


def test_overview_snapshot() -> None:
    async def scenario() -> None:
        app = LoaxaConsole(FrozenConnection(), commune="xa-demo", clock=lambda: NOW)
        async with app.run_test(size=(80, 24)) as pilot:
            pane = app.query_one(OverviewPane)
            await until(pilot, lambda: bool(pane.data), what="the overview")
            await pilot.pause()
            await assert_snapshot(pilot, "overview")

    drive(scenario)


def test_overview_snapshot_while_the_controller_is_unreachable() -> None:
    async def scenario() -> None:
        connection = FrozenConnection()
        app = LoaxaConsole(connection, commune="xa-demo", clock=lambda: NOW)
        async with app.run_test(size=(80, 24)) as pilot:
            pane = app.query_one(OverviewPane)
            await until(pilot, lambda: bool(pane.data), what="the overview")
            connection.down = True
            await pilot.press("f5")
            await until(pilot, lambda: not connection.online, what="the link down")
            await pilot.pause()
            await assert_snapshot(pilot, "overview-unreachable")

    drive(scenario)
