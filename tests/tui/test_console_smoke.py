"""The console connects to a real controller and says who is logged in."""

from __future__ import annotations

from tests.tui.conftest import ConsoleStation, drive, until


def test_console_connects_and_shows_the_user(station: ConsoleStation) -> None:
    async def scenario() -> None:
        app = station.console()
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.connection.online and bool(app.username))
            assert "admin" in app.sub_title and "xa-demo" in app.sub_title

    drive(scenario)
