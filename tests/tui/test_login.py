"""Logging in: over TCP with TLS (``loaxa --url ... tui``) the console asks for a user
name and password and then works with the token, events included; on the local socket
an unknown or expired token also brings the login screen back."""

from __future__ import annotations

from textual.widgets import Input, Static

from controller.tui import LoaxaConsole
from controller.tui.connection import Connection, Endpoint
from controller.tui.login import LoginScreen
from tests.tui.conftest import FleetStation, drive, screen_text, until


async def log_in(pilot, app, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    screen = app.screen
    screen.query_one("#username", Input).value = username
    screen.query_one("#password", Input).value = password
    # A button ignores clicks during its 0.2 s press effect (a double click is one
    # press): a refusal can come back faster than that, so wait as a person would.
    button = screen.query_one("#log-in")
    await until(pilot, lambda: not button.has_class("-active"), what="the button ready")
    await pilot.click("#log-in")


def test_logging_in_over_tls(fleet: FleetStation) -> None:
    fleet.user("canbo", "operator")
    endpoint = Endpoint(url=fleet.url, verify=str(fleet.ca_file), language="vi")

    async def scenario() -> None:
        app = LoaxaConsole(Connection(endpoint), commune="xa-demo")
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, LoginScreen)
                        and bool(app.screen.query("#username")), what="the login screen")
            text = screen_text(app)
            assert "Đăng nhập vào đài" in text and "Tên đăng nhập" in text
            await log_in(pilot, app, "canbo", "sai-mat-khau")
            problem = app.screen.query_one("#login-problem", Static)
            await until(pilot, lambda: "Đang" not in str(problem.render())
                        and str(problem.render()) != "", what="the refusal")
            assert "mật khẩu" in str(problem.render()).lower()
            assert isinstance(app.screen, LoginScreen)
            await log_in(pilot, app, "canbo", "mat-khau-cua-can-bo")
            await until(pilot, lambda: not isinstance(app.screen, LoginScreen)
                        and bool(app.username), what="the console")
            assert app.sub_title == "Đã kết nối: canbo, xã xa-demo"
            assert app.connection.endpoint is not None and app.connection.endpoint.token
            await until(pilot, lambda: app.events_live and "c-dong" in screen_text(app),
                        what="the overview, and events over wss")

    drive(scenario)


def test_a_token_the_station_does_not_know_asks_for_a_login(fleet: FleetStation) -> None:
    fleet.user("canbo", "operator")

    async def scenario() -> None:
        app = fleet.console(token="lx_forgotten")
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, LoginScreen)
                        and bool(app.screen.query("#username")), what="the login screen")
            assert app.sub_title == "Chưa đăng nhập"
            await log_in(pilot, app, "canbo", "mat-khau-cua-can-bo")
            await until(pilot, lambda: app.username == "canbo", what="the console")

    drive(scenario)
