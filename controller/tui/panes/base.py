"""What every tab of the console shares: a title from the catalog, a key to reach it, and
a ``reload`` the app calls when the tab is shown and when the controller comes back."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual.containers import Vertical

from ..connection import Connection

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

    async def reload(self) -> None:
        """Fetch what the pane shows; called on show and after a reconnect."""
