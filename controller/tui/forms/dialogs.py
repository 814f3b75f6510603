"""Modal questions: a yes/no (red when it makes loudspeakers talk), a line of text, and
the override/append choice when a programme conflicts with the approved schedule."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Static

from controller.i18n import N_, _

from .common import localise

DIALOG_CSS = """
{name} {{
    align: center middle;
}}
{name} > #dialog {{
    width: 76;
    max-width: 100%;
    height: auto;
    max-height: 20;
    border: thick $primary;
    background: $surface;
    padding: 0 1;
}}
{name} #dialog-title {{
    text-style: bold;
    width: 100%;
}}
{name} .buttons {{
    height: auto;
    width: 100%;
    margin-top: 1;
}}
{name} .buttons Button {{
    margin-right: 2;
}}
"""


class ConfirmDialog(ModalScreen[bool]):
    """Yes or no. ``danger`` draws it in red and leaves the focus on "cancel"."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ConfirmDialog") + """
    ConfirmDialog.danger > #dialog {
        border: thick $error;
        background: $error 20%;
    }
    ConfirmDialog #dialog-body {
        height: auto;
        max-height: 12;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", N_("Yes")),
        Binding("n,escape", "answer(False)", N_("Cancel")),
    ]

    def __init__(self, title: str, body: str, confirm: str, *, danger: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        localise(self)
        self.title_text, self.body, self.confirm = title, body, confirm
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.title_text, id="dialog-title")
            with VerticalScroll(id="dialog-body"):
                yield Static(Text(self.body))
            with Horizontal(classes="buttons"):
                yield Button(self.confirm, id="confirm",
                             variant="error" if self.danger else "primary")
                yield Button(_("Cancel"), id="cancel")
        yield Footer()

    def on_mount(self) -> None:
        if self.danger:
            self.add_class("danger")
        self.query_one("#cancel" if self.danger else "#confirm", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class PromptDialog(ModalScreen[str | None]):
    """One line of text (a new title, a file path); ``None`` when cancelled."""

    DEFAULT_CSS = DIALOG_CSS.format(name="PromptDialog")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", N_("Cancel")),
    ]

    def __init__(self, title: str, value: str = "", placeholder: str = "",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        localise(self)
        self.title_text, self.value, self.placeholder = title, value, placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.title_text, id="dialog-title")
            yield Input(self.value, placeholder=self.placeholder, id="prompt")
            with Horizontal(classes="buttons"):
                yield Button(_("OK"), id="confirm", variant="primary")
                yield Button(_("Cancel"), id="cancel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        value = self.query_one(Input).value.strip()
        self.dismiss(value or None if event.button.id == "confirm" else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConflictDialog(ModalScreen[str | None]):
    """The conflicts the controller found, and the operator's choice: ``override`` (it
    wins over what is on the air at its priority), ``append`` (it goes after) or
    ``None`` (back to the form)."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ConflictDialog") + """
    ConflictDialog > #dialog {
        border: thick $warning;
    }
    ConflictDialog #conflicts {
        height: auto;
        max-height: 10;
    }
    ConflictDialog .impact {
        color: $warning;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "choose('override')", N_("Override")),
        Binding("a", "choose('append')", N_("Append after")),
        Binding("escape", "choose('')", N_("Cancel")),
    ]

    def __init__(self, message: str, conflicts: list[str], impact: list[str],
                 overridable: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        localise(self)
        self.message, self.conflicts, self.impact = message, conflicts, impact
        self.overridable = overridable

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.message, id="dialog-title")
            with VerticalScroll(id="conflicts"):
                for line in self.conflicts:
                    yield Static(Text("• " + line), classes="conflict")
                for line in self.impact:
                    yield Static(Text("! " + line), classes="impact")
            hint = _("Override: it wins over what is on the air at its priority. "
                     "Append: it goes after.")
            if not self.overridable:
                hint += " " + _("A higher priority is in the way: an override would not "
                                "win.")
            yield Static(Text(hint), id="conflict-hint")
            with Horizontal(classes="buttons"):
                yield Button(_("Override"), id="override", variant="warning")
                yield Button(_("Append after"), id="append", variant="primary")
                yield Button(_("Cancel"), id="cancel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#append", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        choice = event.button.id
        self.dismiss(choice if choice in ("override", "append") else None)

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice or None)
