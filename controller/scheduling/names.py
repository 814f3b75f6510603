"""The names operators and scripts use for the wire's numeric enums and weekday bits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from protocols.messages import HardTimePolicy, Priority
from schedules import Recurrence, Weekday

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PRIORITIES = {p.name.lower(): p for p in Priority}
POLICIES = {p.name.lower(): p for p in HardTimePolicy}


def priority_name(value: int) -> str:
    return Priority(value).name.lower()


def policy_name(value: int) -> str:
    return HardTimePolicy(value).name.lower()


def weekday_names(mask: int) -> list[str]:
    return [name for bit, name in enumerate(WEEKDAY_NAMES) if mask & (1 << bit)]


def weekdays_of(names: Sequence[str]) -> Weekday:
    """``["mon", "thu"]`` -> the mask; ``["all"]`` -> every day. Unknown names raise
    ``ValueError`` (the API's schema only lets known names through)."""
    mask = 0
    for name in names:
        if name == "all":
            mask |= int(Weekday.ALL)
        else:
            mask |= 1 << WEEKDAY_NAMES.index(name)
    return Weekday(mask)


def recurrence_dict(rule: Recurrence) -> dict[str, Any]:
    """A rule as JSON: ``{"kind": "weekly", "weekdays": ["mon"], "at": "05:00:00", ...}``."""
    body: dict[str, Any] = msgspec.to_builtins(rule)
    kind = body.pop("type")
    if "weekdays" in body:
        body["weekdays"] = weekday_names(int(body["weekdays"]))
    return {"kind": kind, **body}
