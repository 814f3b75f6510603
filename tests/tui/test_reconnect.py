"""The controller restarted under an open console: the console says at once that the
controller is unreachable, keeps trying, and comes back by itself — the same app, its
event stream followed again, live data shown again."""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Static

from controller.tui.panes import overview
from tests.tui.conftest import FleetStation, drive, screen_text, until


def row_of(text: str, cluster: str) -> str:
    return next((line for line in text.splitlines() if f" {cluster} " in line), "")


def test_the_console_recovers_from_a_controller_restart(
        fleet: FleetStation, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(overview, "POLL_LIVE_S", 3600.0)  # updates must come by events
    fleet.wait_online()

    async def scenario() -> None:
        app = fleet.console()
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.events_live and "trực tuyến" in row_of(
                screen_text(app), "c-dong"), what="the console connected")
            first_daemon = fleet.daemon.pid
            await asyncio.to_thread(fleet.stop)  # SIGTERM: the process is gone
            await until(pilot, lambda: not app.connection.online, timeout=15,
                        what="the console to notice")
            banner = app.query_one("#link-banner", Static)
            assert banner.display
            assert app.sub_title == "Mất kết nối: đang thử lại…"
            assert "Không liên lạc được với máy chủ đài" in screen_text(app)
            assert not app.events_live
            await pilot.press("6")  # still usable while disconnected
            await pilot.press("1")
            await asyncio.to_thread(fleet.start)
            assert fleet.daemon.pid != first_daemon
            await until(pilot, lambda: app.connection.online and bool(app.username),
                        timeout=20, what="the console to reconnect")
            assert app.sub_title == "Đã kết nối: admin, xã xa-demo"
            assert not banner.display
            await until(pilot, lambda: app.events_live, timeout=20,
                        what="the event stream again")
            # Live data again, by events: the agent (which lost the broker too) is back,
            # and a change made now is shown without polling.
            await until(pilot, lambda: "trực tuyến" in row_of(screen_text(app), "c-dong"),
                        timeout=30, what="the agent online again")
            fleet.call("POST", "/communes/xa-demo/clusters", {
                "key": "c-after", "name": "Cụm mới", "kind": "ip", "station": "st-1",
                "village": "thon-tay"})
            await until(pilot, lambda: "c-after" in screen_text(app), timeout=10,
                        what="an update after the restart")

    drive(scenario)
    fleet.wait_online()
