"""Widgets every pane may use: the link banner, a yes/no question, a number prompt, a
list to choose from, and the big one-time code.

The dialogs are :class:`~textual.screen.ModalScreen` s that return their answer through
``push_screen(..., callback)`` or ``await push_screen_wait(...)`` (from a worker):
``True``/``False``, the number or ``None``, the chosen key or ``None``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from controller.i18n import N_, _

from .forms.common import localise


class LinkBanner(Static):
    """A bright line under the header while the controller cannot be reached (or the
    operator must log in); hidden otherwise."""

    def show(self, message: str) -> None:
        self.update(Text(message))
        self.display = True

    def hide(self) -> None:
        self.display = False


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; ``y``/Enter on Yes answers yes, ``n``/Escape no."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", N_("Yes (y)"), show=False),
        Binding("n,escape", "answer(False)", N_("No (n)"), show=False),
    ]

    def __init__(self, question: str, *, danger: bool = False) -> None:
        super().__init__()
        localise(self)
        self.question = question
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.question), classes="question")
            with Horizontal(classes="buttons"):
                yield Button(_("Yes (y)"), id="yes",
                             variant="error" if self.danger else "primary")
                yield Button(_("No (n)"), id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")


class NumberPrompt(ModalScreen[int | None]):
    """Ask for a whole number in ``[low, high]``; Enter accepts, Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", N_("Go back"))]

    def __init__(self, question: str, value: int | None, low: int, high: int) -> None:
        super().__init__()
        localise(self)
        self.question, self.value, self.low, self.high = question, value, low, high

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.question), classes="question")
            yield Input("" if self.value is None else str(self.value), type="integer",
                        placeholder=_("{low} to {high}").format(low=self.low, high=self.high),
                        id="number")
            yield Static("", id="problem", classes="problem")
            with Horizontal(classes="buttons"):
                yield Button(_("Apply"), id="ok", variant="primary")
                yield Button(_("Go back"), id="cancel")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def _accept(self) -> None:
        raw = self.query_one(Input).value.strip()
        try:
            number = int(raw)
        except ValueError:
            number = None
        if number is None or not self.low <= number <= self.high:
            self.query_one("#problem", Static).update(Text(
                _("Type a number from {low} to {high}.").format(low=self.low, high=self.high)))
            return
        self.dismiss(number)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._accept()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "ok":
            self._accept()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceScreen(ModalScreen[str | None]):
    """Choose one of ``choices`` (key, label); Enter chooses, Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", N_("Go back"))]

    def __init__(self, question: str, choices: list[tuple[str, str]]) -> None:
        super().__init__()
        localise(self)
        self.question = question
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.question), classes="question")
            yield OptionList(*(Option(Text(label), id=key) for key, label in self.choices),
                             id="choices")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


def spaced(code: str) -> str:
    """``ABCD-EFGH`` as ``A B C D  -  E F G H``: easy to read aloud and to copy."""
    return "  -  ".join(" ".join(group) for group in code.split("-"))


class CodeScreen(ModalScreen[None]):
    """A one-time enrolment code, big and clear, with what to type on the agent."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter", "close", N_("Done"))]

    def __init__(self, issued: dict[str, Any], expires: str) -> None:
        super().__init__()
        localise(self)
        self.issued = issued
        self.expires = expires

    def compose(self) -> ComposeResult:
        issued = self.issued
        with Vertical(classes="dialog code-dialog"):
            yield Label(_("One-time enrolment code"), classes="dialog-title")
            yield Static(Text(_("Agent {agent}, cluster {cluster}").format(
                agent=issued.get("agent_id", ""), cluster=issued.get("cluster") or "—")))
            yield Static(Text(spaced(str(issued.get("code", "")))), id="code",
                         classes="big-code")
            yield Static(Text(_("Valid once, until {time}. On the agent, run:").format(
                time=self.expires)))
            yield Static(Text(str(issued.get("command", ""))), id="enrol-command",
                         classes="command")
            with Horizontal(classes="buttons"):
                yield Button(_("Done"), id="close", variant="primary")

    def on_mount(self) -> None:
        self.query_one(Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
