"""What every form of the console shares: a modal screen that checks its fields first
(naming the one to correct) and then saves through the API in a worker, so the keyboard
stays live while the station answers, and a second Enter does not send it twice."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.screen import ModalScreen
from textual.widgets import Button

from controller.i18n import _

from .common import tell


class Invalid(Exception):
    """A field the operator must correct (``field`` is its id)."""

    def __init__(self, field_id: str, message: str) -> None:
        super().__init__(message)
        self.field_id, self.message = field_id, message


class FormScreen(ModalScreen[dict[str, Any] | None]):
    """Dismissed with what the controller stored, or None when cancelled. Subclasses say
    what the fields mean (``body``, raising ``Invalid``) and how to send it (``save``,
    which clears ``saving`` when it is done)."""

    SAVE_GROUP: ClassVar[str] = "form-save"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.saving = False

    def body(self) -> dict[str, Any]:
        raise NotImplementedError

    async def save(self, body: dict[str, Any]) -> None:
        raise NotImplementedError

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_save(self) -> None:
        if self.saving:
            return
        try:
            body = self.body()
        except Invalid as problem:
            tell(self, problem.message, title=_("Check the form"), severity="warning")
            self.query_one(f"#{problem.field_id}").focus()
            return
        self.saving = True
        self.run_worker(self.save(body), group=self.SAVE_GROUP, exclusive=True)
