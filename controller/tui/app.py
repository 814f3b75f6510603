"""The console application: one tab per area of the operator's work, a header that says
whether the controller is reachable, and a loop that reconnects by itself."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Header, TabbedContent, TabPane

from controller.i18n import N_, _

from .connection import ApiError, Connection
from .panes import PANES, Pane

RECONNECT_EVERY_S = 2.0


class LoaxaConsole(App[None]):
    CSS_PATH = "console.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(str(n), f"show_tab('{pane.KEY}')", N_(pane.TITLE), show=False)
          for n, pane in enumerate(PANES, start=1)),
        Binding("q", "quit", N_("Quit")),
    ]

    def __init__(self, connection: Connection, commune: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.connection = connection
        self.commune = commune or ""
        self.username = ""
        connection.listeners.append(self._link_changed)

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(id="tabs"):
            for n, pane in enumerate(PANES, start=1):
                with TabPane(f"{n} {_(pane.TITLE)}", id=f"tab-{pane.KEY}"):
                    yield pane(id=pane.KEY)
        yield Footer()

    def on_mount(self) -> None:
        self.title = _("loaxa: commune station")
        self._show_link()
        self.set_interval(RECONNECT_EVERY_S, self._reconnect)
        self.call_later(self._reconnect)

    # ------------------------------------------------------------------ navigation
    def action_show_tab(self, key: str) -> None:
        self.query_one(TabbedContent).active = f"tab-{key}"

    async def on_tabbed_content_tab_activated(self,
                                              event: TabbedContent.TabActivated) -> None:
        await self.current_pane().reload()

    def current_pane(self) -> Pane:
        active = self.query_one(TabbedContent).active.removeprefix("tab-")
        return self.query_one(f"#{active}", Pane)

    # ------------------------------------------------------------------ the link
    async def _reconnect(self) -> None:
        if self.connection.online and self.username:
            return
        try:
            me = await self.connection.call("GET", "/me")
        except ApiError:
            return
        self.username = str(me["username"])
        if not self.commune:
            communes = [g["unit"] for g in me.get("grants", []) if g.get("unit")]
            self.commune = communes[0] if communes else ""
        self._show_link()
        await self.current_pane().reload()

    def _link_changed(self, online: bool) -> None:
        self._show_link()

    def _show_link(self) -> None:
        if self.connection.online:
            self.sub_title = _("Connected as {user}, commune {commune}").format(
                user=self.username, commune=self.commune)
        else:
            self.sub_title = _("Controller unreachable: reconnecting…")
