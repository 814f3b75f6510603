"""The language of a response: the request's ``Accept-Language`` when it names one we
have, else the user's own setting, else Vietnamese."""

from __future__ import annotations

from controller.i18n import LANGUAGES


def from_accept_language(header: str | None) -> str | None:
    """The best supported language in an ``Accept-Language`` header, or None."""
    if not header:
        return None
    best: tuple[float, str] | None = None
    for part in header.split(",")[:20]:
        pieces = part.strip().split(";")
        tag = pieces[0].strip().lower()[:2]
        weight = 1.0
        for param in pieces[1:]:
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if tag in LANGUAGES and weight > 0 and (best is None or weight > best[0]):
            best = (weight, tag)
    return best[1] if best else None


def choose_language(header: str | None, user_language: str | None) -> str:
    return from_accept_language(header) or (
        user_language if user_language in LANGUAGES else None) or "vi"
