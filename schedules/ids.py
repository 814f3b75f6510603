"""Identifier checks shared by the model structs (the wire's identifier pattern)."""

from __future__ import annotations

from protocols.topics import is_valid_id

from .errors import ErrorCode, ScheduleError


def check_id(value: str, what: str) -> None:
    """Ids end up in topics, slot ids and file names, so they follow the wire pattern."""
    if not is_valid_id(value):
        raise ScheduleError(ErrorCode.INVALID_ID, f"{what} {value!r}")


def check_unique(values: list[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ScheduleError(ErrorCode.DUPLICATE_ID, f"{what} {value!r}")
        seen.add(value)
