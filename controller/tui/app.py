"""The console application: one tab per area of the operator's work, a header (and a
banner) that says whether the controller is reachable, a loop that reconnects by itself,
and the station's event stream handed to the panes.

Live updates: the app follows ``/v1/events`` and sends each event to every pane; panes
that show live state also poll, slowly while the stream runs (heartbeat values such as
volume and what is playing raise no event) and faster while it is down.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Header, TabbedContent, TabPane

from controller.i18n import N_, _, current_language, set_language

from .connection import STREAM_OPEN, ApiError, Connection, Endpoint
from .formatting import zone
from .forms.common import localise
from .language import LanguageChoice
from .login import LoginScreen
from .messages import LiveEvent
from .panes import PANES, Pane
from .widgets import LinkBanner

RECONNECT_EVERY_S = 2.0
EVENTS_RETRY_S = 2.0


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LoaxaConsole(App[None]):
    CSS_PATH = "console.tcss"
    ENABLE_COMMAND_PALETTE = False  # English-only, and one more thing to learn
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(str(n), f"show_tab('{pane.KEY}')", pane.TITLE, show=False)
          for n, pane in enumerate(PANES, start=1)),
        Binding("q", "quit", N_("Quit")),
        Binding("f5,ctrl+r", "refresh", N_("Reload"), key_display="F5"),
    ]

    def __init__(self, connection: Connection, commune: str | None = None, *,
                 clock: Callable[[], dt.datetime] = utc_now, follow_events: bool = True,
                 language: LanguageChoice | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: How to choose the language (``loaxa tui``); None: leave it as the process has it.
        self.language = language
        if language is not None:
            set_language(language.choose())
            connection.use_language(current_language())
        localise(self)
        self.connection = connection
        self.commune = commune or ""
        self.username = ""
        self.clock = clock
        self.station_tz: dt.tzinfo = zone(None)
        self.follow_events = follow_events and connection.has_events
        #: True while the event stream is connected (panes poll faster when it is not).
        self.events_live = False
        self._logging_in = False
        self._reconnecting = False
        connection.listeners.append(self._link_changed)

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Header()
        yield LinkBanner(id="link-banner")
        with TabbedContent(id="tabs"):
            for n, pane in enumerate(PANES, start=1):
                with TabPane(f"{n} {_(pane.TITLE)}", id=f"tab-{pane.KEY}"):
                    yield pane(id=pane.KEY)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = _("loaxa: commune station")
        self._show_link()
        self.set_interval(RECONNECT_EVERY_S, self._reconnect)
        self.run_worker(self._reconnect(), group="link")
        if self.follow_events:
            self.run_worker(self._follow_events(), name="events", group="events",
                            exclusive=True, exit_on_error=False)

    # ------------------------------------------------------------------ navigation
    def action_show_tab(self, key: str) -> None:
        self.query_one(TabbedContent).active = f"tab-{key}"

    def action_refresh(self) -> None:
        self.reload_pane()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        pane = self.current_pane()
        pane.focus_main()
        self.reload_pane(pane)

    def reload_pane(self, pane: Pane | None = None) -> None:
        """Reload a pane (the one on screen by default) in a worker: the keyboard stays
        responsive while the API answers."""
        target = pane or self.current_pane()
        self.run_worker(target.reload(), group=f"reload-{target.KEY}")

    def current_pane(self) -> Pane:
        active = self.query_one(TabbedContent).active.removeprefix("tab-")
        return self.query_one(f"#{active}", Pane)

    def show_agent(self, agent_id: str) -> None:
        """Open the Devices tab on one agent (from the overview)."""
        from .panes.devices import DevicesPane

        self.query_one(DevicesPane).select(agent_id)
        self.action_show_tab(DevicesPane.KEY)

    # ------------------------------------------------------------------ the link
    async def _reconnect(self) -> None:
        if (self.connection.online and self.username) or self._logging_in \
                or self._reconnecting:
            return
        self._reconnecting = True
        try:
            await self._check_link()
        finally:
            self._reconnecting = False

    async def _check_link(self) -> None:
        try:
            me = await self.connection.call("GET", "/me")
        except ApiError as exc:
            if exc.unauthenticated:
                endpoint = self.connection.endpoint
                # Why (a refused token, an unmapped Unix user); nothing to explain on a
                # first login with a URL.
                self._ask_login("" if endpoint and endpoint.needs_login else exc.message)
            self._show_link()
            return
        if self.language is not None:
            await self.speak(self.language.choose(me.get("language")))
        self.username = str(me["username"])
        if not self.commune:
            communes = [g["unit"] for g in me.get("grants", [])
                        if g.get("unit") and g.get("level") == "commune"]
            self.commune = communes[0] if communes else ""
            if not self.commune:
                self.notify(_("None of your grants is on a commune: start the console with "
                              "--commune."), severity="warning", timeout=15)
        self._show_link()
        self.reload_pane()

    async def speak(self, language: str) -> None:
        """Change the console's language (the user's stored preference, learnt on
        logging in): the keys, the tabs and every pane are built again in it."""
        if language == current_language():
            return
        set_language(language)
        self.connection.use_language(language)
        localise(self)
        await self.recompose()
        self.title = _("loaxa: commune station")

    def _ask_login(self, reason: str) -> None:
        if self._logging_in or not self.connection.can_log_in:
            return
        self._logging_in = True

        def logged_in(user: str | None) -> None:
            self._logging_in = False
            self.username = ""
            self.run_worker(self._reconnect(), group="link")

        self.push_screen(LoginScreen(self.connection, reason), logged_in)

    def _link_changed(self, online: bool) -> None:
        self._show_link()

    def session_expired(self, reason: str) -> None:
        """The API no longer knows who this is (a token expired): log in again."""
        self.username = ""
        self._show_link()
        self._ask_login(reason)

    def _show_link(self) -> None:
        banner = self.query_one(LinkBanner)
        if self.connection.online and self.username:
            self.sub_title = _("Connected as {user}, commune {commune}").format(
                user=self.username, commune=self.commune)
            banner.hide()
        elif self.connection.online:
            self.sub_title = _("Not logged in")
            banner.show(_("Log in to use the console."))
        else:
            self.sub_title = _("Unreachable: reconnecting…")
            endpoint = self.connection.endpoint
            where = f" ({endpoint.describe()})" if endpoint is not None else ""
            banner.show(_("The controller{where} cannot be reached. The console keeps "
                          "trying; what you see may be out of date.").format(where=where))

    def _handle_exception(self, error: Exception) -> None:
        """A bug: the console stops (Textual cannot go on), but the operator gets one
        translated sentence instead of a traceback, which goes to the log."""
        where = log_crash(error)
        super()._handle_exception(error)
        message = _("The console stopped on an unexpected error: {error}").format(
            error=f"{type(error).__name__}: {error}")
        if where:
            message += " " + _("(details in {path})").format(path=where)
        self._exit_renderables[:] = [Text(message)]

    # ------------------------------------------------------------------ live events
    async def _follow_events(self) -> None:
        """Follow the event stream for as long as the console runs, reconnecting; after
        each reconnection the panes re-read what they show (events may have been
        missed)."""
        while True:
            if not (self.connection.online and self.username):
                await asyncio.sleep(EVENTS_RETRY_S / 4)
                continue
            try:
                async for event in self.connection.events():
                    if event.get("kind") == STREAM_OPEN:
                        self.events_live = True
                        self.reload_pane()  # what happened while the stream was down
                        continue
                    for pane in self.query(Pane):
                        pane.post_message(LiveEvent(event))
            except ApiError:
                pass
            if self.events_live:
                self.events_live = False
                self.username = ""  # check the link now rather than at the next poll
                await self._reconnect()
            await asyncio.sleep(EVENTS_RETRY_S)


def crash_log() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "loaxa" / "tui.log"


def log_crash(error: BaseException) -> str | None:
    """Append the traceback to the console's log; its path, or None if unwritable."""
    path = crash_log()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"{dt.datetime.now(dt.UTC).isoformat()}\n")
            handle.write("".join(traceback.format_exception(error)))
        return str(path)
    except OSError:
        return None


def run_console(endpoint: Endpoint, commune: str | None = None,
                language: LanguageChoice | None = None) -> None:
    """What ``loaxa tui`` runs."""
    connection = Connection(endpoint)
    try:
        LoaxaConsole(connection, commune=commune, language=language).run()
    finally:
        connection.close()
