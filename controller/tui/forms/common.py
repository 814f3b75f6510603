"""Small things every workflow tab uses: key bindings in the reader's language, an API
refusal shown as a notification (never a traceback), and numbers as operators read them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich.text import Text
from textual.binding import BindingsMap
from textual.dom import DOMNode
from textual.notifications import SeverityLevel

from controller.i18n import _, current_language

from ..connection import ApiError

#: A cell with nothing to say.
NONE = "-"
BAR_FULL, BAR_EMPTY = "█", "░"


def localise(node: DOMNode) -> None:
    """Translate the descriptions of ``node``'s key bindings (marked with ``N_`` at class
    level) now, so the footer shows them in the reader's language. Always from the
    class's English sources, so calling it again after a change of language works."""
    source = type(node)._merged_bindings or BindingsMap()
    node._bindings = BindingsMap.from_keys({
        key: [dataclasses.replace(b, description=_(b.description)) if b.description
              else b for b in found]
        for key, found in source.key_to_bindings.items()})


def refusal_text(error: ApiError) -> str:
    """The API's (translated) message with the problems it lists, one a line."""
    problems = [str(d.get("problem", "")) for d in error.details
                if isinstance(d, dict) and d.get("problem")]
    shown = problems[:5]
    lines = [error.message, *("• " + p for p in shown)]
    if len(problems) > len(shown):
        lines.append(_("… and {count} more").format(count=len(problems) - len(shown)))
    return "\n".join(lines)


def show_refusal(node: DOMNode, error: ApiError) -> None:
    """An API refusal as a notification; an expired login asks to log in again."""
    expired = getattr(node.app, "session_expired", None)
    if error.unauthenticated and callable(expired):
        expired(error.message)
        return
    tell(node, refusal_text(error), title=_("The station refused"), severity="error",
         timeout=10)


def duration_text(ms: int | None) -> str:
    if ms is None:
        return NONE
    seconds = round(ms / 1000)
    hours, rest = divmod(seconds, 3600)
    return (f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours
            else f"{rest // 60}:{rest % 60:02d}")


def decimal(value: float | None, digits: int = 1) -> str:
    """A number with the decimal mark of the reader's language (``-16,0`` in Vietnamese)."""
    if value is None:
        return NONE
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if current_language() == "vi" else text


def percent(value: float | None) -> str:
    return NONE if value is None else decimal(100 * value) + "%"


def bar(value: float | None, width: int = 20) -> str:
    """A share as a bar of block characters, ``█████░░░░░``."""
    if value is None:
        return BAR_EMPTY * width
    filled = round(max(0.0, min(1.0, value)) * width)
    return BAR_FULL * filled + BAR_EMPTY * (width - filled)


def local_time(value: str | None, tz: str | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """An API time (UTC, ISO 8601) on the commune's clock."""
    if not value:
        return NONE
    try:
        moment = dt.datetime.fromisoformat(value)
        if tz:
            moment = moment.astimezone(ZoneInfo(tz))
    except (ValueError, ZoneInfoNotFoundError):
        return value
    return moment.strftime(pattern)


def rows_of(answer: Any) -> list[dict[str, Any]]:
    """An API list answer, defensively: anything else is no rows."""
    return [row for row in answer if isinstance(row, dict)] if isinstance(answer, list) else []


def cell(value: Any) -> Text:
    """A table cell shown as it is (a title with brackets is not markup)."""
    return Text(NONE if value is None or value == "" else str(value))


def tell(node: DOMNode, message: str, *, title: str = "",
         severity: SeverityLevel = "information", timeout: float | None = None) -> None:
    """A notification with the text as it is (no markup)."""
    node.app.notify(message, title=title, severity=severity, timeout=timeout, markup=False)

