"""The console's language: ``--lang``/``LOAXA_LANG``, then the user's preference stored at
the station, then ``[station] language``, then the locale variables, then Vietnamese
(controller/tui/language.py says why). The order is checked on its own, and against
the real controller: a user whose stored preference is English logs in on a console that
started in Vietnamese, and it changes language; asked explicitly for Vietnamese, it
does not. ``loaxa tui`` reading the station's setting is tests/tui/test_tmux.py's."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from textual.widgets import Input

from controller import i18n
from controller.cli.errors import CliError
from controller.tui import LoaxaConsole
from controller.tui.connection import ApiError, Connection, Endpoint
from controller.tui.language import LanguageChoice
from controller.tui.login import LoginScreen
from tests.tui.conftest import PASSWORD, FleetStation, drive, screen_text, until

VIETNAMESE_LOCALE = {"LANG": "vi_VN.UTF-8"}


@pytest.mark.parametrize(("flag", "environ", "user", "station", "expected"), [
    (None, {}, None, None, "vi"),  # nothing said: Vietnamese
    (None, {"LANG": "C.UTF-8"}, None, None, "vi"),
    (None, {"LANG": "en_US.UTF-8"}, None, None, "en"),  # the locale, as a last resort
    (None, {"LANG": "en_US.UTF-8"}, None, "vi", "vi"),  # the station's setting beats it
    (None, VIETNAMESE_LOCALE, None, "en", "en"),
    (None, VIETNAMESE_LOCALE, "en", "vi", "en"),  # the user's preference beats both
    (None, {"LANG": "en_US.UTF-8"}, "vi", "en", "vi"),
    (None, {"LOAXA_LANG": "en"}, "vi", "vi", "en"),  # LOAXA_LANG beats the user
    ("vi", {"LOAXA_LANG": "en"}, "en", "en", "vi"),  # and --lang beats LOAXA_LANG
    (None, {"LOAXA_LANG": "fr", "LANG": "en_GB.UTF-8"}, None, None, "en"),  # unknown: next
    (None, VIETNAMESE_LOCALE, "de", None, "vi"),
])
def test_the_order_of_the_language_sources(flag: str | None, environ: dict[str, str],
                                           user: str | None, station: str | None,
                                           expected: str) -> None:
    assert LanguageChoice.gather(flag, station, environ).choose(user) == expected


@contextlib.contextmanager
def process_language() -> Iterator[None]:
    """The console sets the process's language: back to detection afterwards."""
    try:
        yield
    finally:
        i18n.set_language(None)


def english_user(fleet: FleetStation) -> str:
    with contextlib.suppress(CliError):
        fleet.call("POST", "/users", {"username": "nguoi-anh", "password": PASSWORD,
                                      "language": "en"})
        fleet.call("POST", "/users/nguoi-anh/grants", {"unit": "xa-demo",
                                                       "role": "operator"})
    assert fleet.call("GET", "/users/nguoi-anh")["language"] == "en"
    return "nguoi-anh"


def keys(app: LoaxaConsole) -> set[str]:
    return {b.binding.description for b in app.screen.active_bindings.values()}


async def log_in(pilot: Any, app: LoaxaConsole, username: str) -> None:
    await until(pilot, lambda: isinstance(app.screen, LoginScreen)
                and bool(app.screen.query("#username")), what="the login screen")
    app.screen.query_one("#username", Input).value = username
    app.screen.query_one("#password", Input).value = PASSWORD
    await pilot.click("#log-in")


def console(fleet: FleetStation, choice: LanguageChoice) -> LoaxaConsole:
    endpoint = Endpoint(url=fleet.url, verify=str(fleet.ca_file), language="vi")
    return LoaxaConsole(Connection(endpoint), commune="xa-demo", language=choice)


def test_the_users_stored_preference_applies_once_logged_in(fleet: FleetStation) -> None:
    username = english_user(fleet)

    async def scenario() -> None:
        app = console(fleet, LanguageChoice.gather(None, None, VIETNAMESE_LOCALE))
        async with app.run_test(size=(80, 24)) as pilot:
            await log_in(pilot, app, username)  # the login screen is still Vietnamese
            assert "Đăng nhập vào đài" in screen_text(app)
            await until(pilot, lambda: "online" in screen_text(app)
                        and "1 Overview" in screen_text(app), 20,
                        what="the overview in English")
            text = screen_text(app)
            for label in ("6 Devices", "Village", "Today on the air", "Quit"):
                assert label in text, (label, text)
            assert "Tổng quan" not in text and "Thoát" not in text
            assert app.sub_title == f"Connected as {username}, commune xa-demo"
            assert {"Quit", "Agent details"} <= keys(app)
            # the station's own messages follow
            with pytest.raises(ApiError) as refused:
                await app.connection.call("GET", "/agents/khong-co")
            assert "No agent" in refused.value.message, refused.value.message
            await pilot.press("6")
            await until(pilot, lambda: "Set volume" in keys(app), what="the devices' keys")

    with process_language():
        drive(scenario)


def test_an_explicit_language_beats_the_users_preference(fleet: FleetStation) -> None:
    username = english_user(fleet)

    async def scenario() -> None:
        app = console(fleet, LanguageChoice.gather("vi", "en", {"LANG": "en_US.UTF-8"}))
        async with app.run_test(size=(80, 24)) as pilot:
            await log_in(pilot, app, username)
            await until(pilot, lambda: "trực tuyến" in screen_text(app), 20,
                        what="the overview in Vietnamese")
            text = screen_text(app)
            assert "1 Tổng quan" in text and "Thoát" in text and "Overview" not in text
            assert app.sub_title == f"Đã kết nối: {username}, xã xa-demo"

    with process_language():
        drive(scenario)


def test_the_stations_setting_when_the_user_has_none(fleet: FleetStation) -> None:
    assert fleet.call("GET", "/me")["language"] is None  # the admin, on the socket

    async def scenario() -> None:
        app = fleet.console(language=LanguageChoice.gather(None, "en", VIETNAMESE_LOCALE))
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: "online" in screen_text(app), 20,
                        what="the overview in English")
            assert "1 Overview" in screen_text(app) and "Quit" in keys(app)

    with process_language():
        drive(scenario)
