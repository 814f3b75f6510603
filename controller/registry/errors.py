"""The typed errors of the station services (registry, security, enrolment, signing).

Each carries a stable ``code`` for machines and an English message template (marked for
translation) with its parameters; the API and CLI translate the template into the
reader's language at the last moment, so one error can be shown in Vietnamese to the
operator and logged in English.
"""

from __future__ import annotations

from typing import Any

from controller.i18n import translations


class ServiceError(Exception):
    """Base class: ``code`` is stable, ``template`` is an English ``str.format`` pattern."""

    code = "error"

    def __init__(self, template: str, **params: Any) -> None:
        self.template = template
        self.params = params
        super().__init__(self.english())

    def english(self) -> str:
        return self._format(self.template)

    def translated(self, language: str | None = None) -> str:
        return self._format(translations(language).gettext(self.template))

    def _format(self, template: str) -> str:
        try:
            return template.format(**self.params)
        except (KeyError, IndexError, ValueError):
            return template


class NotFound(ServiceError):
    code = "not_found"


class Conflict(ServiceError):
    """The request contradicts the current state (duplicate key, wrong date, ...)."""

    code = "conflict"


class Invalid(ServiceError):
    """A value that can never be right (wrong level, unknown role, bad date range)."""

    code = "invalid"


class Forbidden(ServiceError):
    code = "forbidden"


class Unauthenticated(ServiceError):
    code = "unauthenticated"


class Unavailable(ServiceError):
    """Something the operation needs is not there (e.g. ``pg_dump`` not installed)."""

    code = "unavailable"
