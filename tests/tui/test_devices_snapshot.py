"""SVG snapshots of Thiết bị at 80×24 on the frozen commune (tests/tui/fakes.py): an
online agent with its telemetry and journal, and a new agent's one-time code."""

from __future__ import annotations

from controller.tui import LoaxaConsole
from controller.tui.panes.devices import DevicesPane
from controller.tui.widgets import ChoiceScreen, CodeScreen
from tests.tui.conftest import drive, until
from tests.tui.fakes import NOW, FrozenConnection
from tests.tui.workflow_support import assert_snapshot


def frozen_console() -> LoaxaConsole:
    return LoaxaConsole(FrozenConnection(), commune="xa-demo", clock=lambda: NOW)


def test_devices_snapshot() -> None:
    async def scenario() -> None:
        app = frozen_console()
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: bool(app.username), what="the connection")
            pane = app.query_one(DevicesPane)
            pane.select("ag-dong1")
            await pilot.press("6")
            await until(pilot, lambda: pane.agent is not None
                        and pane.agent["id"] == "ag-dong1" and bool(pane.records),
                        what="the agent")
            await pilot.pause()
            await assert_snapshot(pilot, "devices")

    drive(scenario)


def test_enrolment_code_snapshot() -> None:
    async def scenario() -> None:
        app = frozen_console()
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: bool(app.username), what="the connection")
            await pilot.press("6")
            pane = app.query_one(DevicesPane)
            await until(pilot, lambda: pane.agent is not None, what="the agents")
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, CodeScreen))
            await pilot.pause()
            await assert_snapshot(pilot, "devices-enrolment-code")

    drive(scenario)
