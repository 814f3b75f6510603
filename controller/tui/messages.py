"""Messages the console's app sends to its panes."""

from __future__ import annotations

from typing import Any

from textual.message import Message


class LiveEvent(Message):
    """One event from the station's event stream (``/v1/events``): ``event["kind"]`` says
    what happened (``agent_online``, ``alert_agent_offline``, ``emergency_started``, …).
    Sent to every pane; a pane refreshes what the event touches."""

    bubble = False

    def __init__(self, event: dict[str, Any]) -> None:
        super().__init__()
        self.event = event

    @property
    def kind(self) -> str:
        return str(self.event.get("kind", ""))
