"""The broadcast session form (khung giờ phát): its id (when new), name, start, cap, the
window it may stretch to, and its weekdays.

Saved with ``POST /communes/{c}/sessions`` (new) or ``PATCH .../sessions/{key}`` (every
field sent; an empty window means the cap). What the form can check it checks first and
names the field; anything the controller refuses (a taken id, a change that would push an
approved programme out of the session, a role that may not programme) is a notification,
and the form stays open to be corrected.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Footer, Input, Label

from controller.i18n import N_, _

from ..connection import ApiError, Connection
from .base import FormScreen, Invalid
from .common import localise, show_refusal
from .programme import WEEKDAYS, clock, parse_time

MAX_MINUTES = 1440  # the API's bound: a day


def minutes(field_id: str, text: str, required: bool) -> int | None:
    if not text and not required:
        return None
    if not text.isdigit() or not 1 <= int(text) <= MAX_MINUTES:
        raise Invalid(field_id, _("Write a number of minutes from 1 to {most}.").format(
            most=MAX_MINUTES))
    return int(text)


class SessionForm(FormScreen):
    SAVE_GROUP = "session-save"
    """Create a session (``session`` is None) or edit one; dismissed with the session as
    the controller stored it, or None when cancelled."""

    DEFAULT_CSS = """
    SessionForm {
        align: center middle;
    }
    SessionForm > #form {
        width: 80;
        max-width: 100%;
        height: auto;
        max-height: 24;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    SessionForm #form-title {
        text-style: bold;
        width: 100%;
    }
    SessionForm .row {
        height: auto;
    }
    SessionForm .row > Label {
        width: 18;
        padding-right: 1;
    }
    SessionForm .row > Input {
        width: 1fr;
    }
    SessionForm #weekdays {
        height: auto;
    }
    SessionForm #weekdays Checkbox {
        border: none;
        padding: 0;
        margin-right: 1;
        height: 1;
        width: auto;
    }
    SessionForm .buttons {
        height: auto;
        margin-top: 1;
    }
    SessionForm .buttons Button {
        margin-right: 2;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", N_("Save"), priority=True),
        Binding("escape", "cancel", N_("Cancel")),
    ]

    def __init__(self, connection: Connection, commune: str,
                 session: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        localise(self)
        self.connection, self.commune, self.session = connection, commune, session

    def row(self, label: str, widget: Widget) -> Horizontal:
        return Horizontal(Label(label), widget, classes="row")

    def compose(self) -> ComposeResult:
        s = self.session or {}
        days = set(s.get("weekdays") or ["all"])
        window = s.get("length_minutes")
        with Vertical(id="form"):
            yield Label(_("Edit session {key}").format(key=s["key"]) if s
                        else _("New broadcast session"), id="form-title")
            if not s:
                yield self.row(_("Session id"), Input(
                    compact=True, placeholder=_("e.g. sang-som"), id="s-key"))
            yield self.row(_("Name"), Input(str(s.get("name") or ""), compact=True,
                                            placeholder=_("e.g. Morning"), id="s-name"))
            yield self.row(_("Starts at"), Input(clock(s.get("start")), compact=True,
                                                 placeholder=_("HH:MM"), id="s-start"))
            yield self.row(_("Cap (minutes)"), Input(
                str(s.get("cap_minutes") or ""), compact=True, type="integer",
                placeholder=_("e.g. 45"), id="s-cap"))
            yield self.row(_("Length (minutes)"), Input(
                "" if window is None else str(window), compact=True, type="integer",
                placeholder=_("optional; empty: the cap"), id="s-window"))
            with Horizontal(classes="row"):
                yield Label(_("Weekdays"))
                with Horizontal(id="weekdays"):
                    for day, label in WEEKDAYS.items():
                        yield Checkbox(_(label), day in days or "all" in days,
                                       id=f"s-day-{day}")
            with Horizontal(classes="buttons"):
                yield Button(_("Save"), id="save", variant="primary")
                yield Button(_("Cancel"), id="cancel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#s-key" if self.session is None else "#s-name", Input).focus()

    # ------------------------------------------------------------------ reading
    def text(self, field_id: str) -> str:
        return self.query_one(f"#{field_id}", Input).value.strip()

    def body(self) -> dict[str, Any]:
        """The session as the API takes it; :class:`Invalid` names a field to fix."""
        body: dict[str, Any] = {}
        if self.session is None:
            if not self.text("s-key"):
                raise Invalid("s-key", _("Give the session an id, e.g. sang-som."))
            body["key"] = self.text("s-key")
        days = [day for day in WEEKDAYS if self.query_one(f"#s-day-{day}", Checkbox).value]
        if not days:
            raise Invalid("s-day-mon", _("Choose at least one weekday."))
        body.update({
            "name": self.text("s-name"),
            "start": parse_time("s-start", self.text("s-start"), required=True),
            "cap_minutes": minutes("s-cap", self.text("s-cap"), required=True),
            "length_minutes": minutes("s-window", self.text("s-window"), required=False),
            "weekdays": ["all"] if len(days) == len(WEEKDAYS) else days})
        return body

    # ------------------------------------------------------------------ saving
    async def save(self, body: dict[str, Any]) -> None:
        base = f"/communes/{self.commune}/sessions"
        try:
            if self.session is None:
                saved = await self.connection.call("POST", base, body=body)
            else:
                saved = await self.connection.call(
                    "PATCH", f"{base}/{self.session['key']}", body=body)
        except ApiError as error:
            show_refusal(self, error)
            return
        finally:
            self.saving = False
        self.dismiss(dict(saved))
