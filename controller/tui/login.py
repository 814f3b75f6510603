"""The login screen: shown when the API wants to know who is at the console (a URL
without a token, or a local Unix user that is not mapped to a loaxa user)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static

from controller.i18n import _

from .connection import ApiError, Connection


class LoginScreen(Screen[str]):
    """User name and password; answers the user name once the token is in use."""

    def __init__(self, connection: Connection, reason: str = "") -> None:
        super().__init__(id="login")
        self.connection = connection
        self.reason = reason

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog login-dialog"):
            yield Label(_("Log in to the station"), classes="dialog-title")
            if self.reason:
                yield Static(self.reason, classes="problem", markup=False)
            yield Label(_("User name"))
            yield Input(id="username", placeholder=_("e.g. canbo-xa"))
            yield Label(_("Password"))
            yield Input(id="password", password=True)
            yield Static("", id="login-problem", classes="problem", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(_("Log in"), id="log-in", variant="primary")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#username", Input).focus()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "username":
            self.query_one("#password", Input).focus()
        else:
            await self.submit()

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        await self.submit()

    async def submit(self) -> None:
        username = self.query_one("#username", Input).value.strip()
        password = self.query_one("#password", Input).value
        problem = self.query_one("#login-problem", Static)
        if not username or not password:
            problem.update(_("Type your user name and password."))
            return
        problem.update(_("Logging in…"))
        try:
            user = await self.connection.login(username, password)
        except ApiError as exc:
            problem.update(exc.message)
            self.query_one("#password", Input).value = ""
            return
        self.dismiss(user)
