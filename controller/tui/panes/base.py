"""What every tab of the console shares: a title from the catalog, a key to reach it, and
a ``reload`` the app calls when the tab is shown and when the controller comes back.

Panes call the API through :meth:`Pane.fetch` (a failure becomes a translated
notification, never a traceback; an unreachable controller is shown by the app's banner
instead), and hear the station's events as :class:`~controller.tui.messages.LiveEvent`
messages (``on_live_event``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual.containers import Vertical

from controller.i18n import _

from ..connection import ApiError, Connection
from ..messages import LiveEvent

if TYPE_CHECKING:
    from ..app import LoaxaConsole


class Pane(Vertical):
    #: The tab's label, marked with ``N_`` and translated when shown.
    TITLE: ClassVar[str]
    #: The tab's id (also its widget id): ``overview``, ``library``, …
    KEY: ClassVar[str]

    @property
    def console(self) -> LoaxaConsole:
        return cast("LoaxaConsole", self.app)

    @property
    def connection(self) -> Connection:
        return self.console.connection

    @property
    def commune(self) -> str:
        """The commune the operator works on (from their grants, or ``--commune``)."""
        return self.console.commune

    @property
    def shown(self) -> bool:
        """Whether this pane's tab is the one on screen."""
        try:
            return self.console.current_pane() is self
        except Exception:
            return False

    def now(self) -> dt.datetime:
        """The console's clock (frozen in snapshot tests)."""
        return self.console.clock()

    @property
    def local_zone(self) -> dt.tzinfo:
        """The station's time zone (from the timeline; Vietnam until known)."""
        return self.console.station_tz

    def focus_main(self) -> None:
        """Called when the pane's tab is shown: override to put the focus on the pane's
        main widget (e.g. its table), so that its key bindings work and show in the
        footer. Nothing by default (an input field would swallow the tab keys 1–6)."""

    def focus_first(self, selector: str) -> None:
        """Focus the first widget matching ``selector`` in this pane, if any."""
        for widget in self.query(selector):
            if widget.focusable:
                widget.focus()
                return

    async def reload(self) -> None:
        """Fetch what the pane shows; called on show and after a reconnect."""

    async def fetch(self, method: str, path: str, *, body: Any = None,
                    params: Mapping[str, Any] | None = None, quiet: bool = False) -> Any:
        """The API's answer, or ``None`` when the call failed: the operator is told why
        in a notification (unless ``quiet``, or the controller is unreachable, which the
        banner already says)."""
        try:
            return await self.connection.call(method, path, body=body, params=params)
        except ApiError as exc:
            if exc.unauthenticated:
                self.console.session_expired(exc.message)
            elif not quiet and not exc.unreachable:
                self.notify(exc.message, title=_("The station refused"), severity="error",
                            timeout=8)
            return None

    def on_live_event(self, message: LiveEvent) -> None:
        """An event from the station (override to refresh what it touches)."""
