"""The one exception the scheduling logic raises, so callers can catch it precisely.

Invalid programmes, sessions or topologies are refused where they are built (the
structs validate themselves) rather than deep inside the resolver, so an operator sees
the mistake when programming, not at air time. The ``code`` is stable; the CLI/API turn
it into a translated message (no user-facing text lives in ``schedules``).
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_ID = "invalid_id"
    DUPLICATE_ID = "duplicate_id"
    UNKNOWN_SESSION = "unknown_session"
    UNKNOWN_TIME_ZONE = "unknown_time_zone"
    INVALID_RANGE = "invalid_range"
    INVALID_DURATION = "invalid_duration"
    INVALID_CONTENT = "invalid_content"
    MISSING_TIME = "missing_time"
    TOO_MANY_AIRINGS = "too_many_airings"
    EMPTY = "empty"


class ScheduleError(ValueError):
    """A schedule input that cannot be resolved; ``code`` says which rule it broke.

    A ``ValueError`` so that msgspec turns it into a ``ValidationError`` when the struct
    is decoded from storage or from the API.
    """

    def __init__(self, code: ErrorCode, detail: str = "") -> None:
        super().__init__(f"{code.value}: {detail}" if detail else code.value)
        self.code = code
        self.detail = detail
