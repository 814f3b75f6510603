"""The model refuses what cannot be scheduled, with typed codes, and survives storage."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time

import msgspec
import pytest

from protocols.messages import HardTimePolicy, Priority
from schedules import (
    Daily,
    Every,
    Item,
    Once,
    Placement,
    Programme,
    Schedule,
    ScheduleError,
    Session,
    Targets,
    Weekday,
    Weekly,
    resolve,
)
from schedules.errors import ErrorCode

from .support import item, ns, summary, topology


def code_of(build: Callable[[], object]) -> ErrorCode:
    with pytest.raises(ScheduleError) as caught:
        build()
    return caught.value.code


ONCE = Once(on=date(2025, 1, 1), at=time(5))


@pytest.mark.parametrize(("build", "code"), [
    (lambda: Item(content=b"short", duration_ms=1), ErrorCode.INVALID_CONTENT),
    (lambda: Item(content=bytes(32), duration_ms=0), ErrorCode.INVALID_DURATION),
    (lambda: Programme(programme_id="Bad Id", items=(item("a", 1),), recurrence=ONCE),
     ErrorCode.INVALID_ID),
    (lambda: Programme(programme_id="p", items=(), recurrence=ONCE), ErrorCode.EMPTY),
    (lambda: Programme(programme_id="p", items=(item("a", 1),) * 10, repeat=100,
                       recurrence=ONCE), ErrorCode.TOO_MANY_AIRINGS),
    (lambda: Programme(programme_id="p", items=(item("a", 1),), recurrence=Daily()),
     ErrorCode.MISSING_TIME),
    (lambda: Programme(programme_id="p", items=(item("a", 1),), recurrence=ONCE,
                       max_delay_minutes=-1), ErrorCode.INVALID_DURATION),
    (lambda: Session(session_id="s", start=time(5), cap_minutes=0), ErrorCode.INVALID_DURATION),
    (lambda: Session(session_id="s", start=time(5), cap_minutes=30, length_minutes=20),
     ErrorCode.INVALID_DURATION),
    (lambda: Targets(villages=frozenset({"Thôn 1"})), ErrorCode.INVALID_ID),
    (lambda: Schedule(commune="xa", tz="Nowhere/Land"), ErrorCode.UNKNOWN_TIME_ZONE),
    (lambda: Schedule(commune="xa", programmes=(
        Programme(programme_id="p", items=(item("a", 1),), recurrence=ONCE),) * 2),
     ErrorCode.DUPLICATE_ID),
    (lambda: topology({"v1": ["c1"], "v2": ["c1"]}), ErrorCode.DUPLICATE_ID),
])
def test_invalid_input_is_a_typed_error(build: Callable[[], object], code: ErrorCode) -> None:
    assert code_of(build) is code


def test_a_schedule_round_trips_through_json_for_storage() -> None:
    schedule = Schedule(commune="xa", sessions=(
        Session(session_id="eve", start=time(17), cap_minutes=45,
                weekdays=Weekday.MON | Weekday.FRI),), programmes=(
        Programme(programme_id="a", items=(item("a", 3),), session="eve",
                  recurrence=Weekly(weekdays=Weekday.MON), priority=Priority.PRIORITY,
                  policy=HardTimePolicy.PREEMPT, rank=2, placement=Placement.OVERRIDE,
                  targets=Targets(villages=frozenset({"v1"}))),
        Programme(programme_id="storm", items=(item("s", 1),), recurrence=Every(
            minutes=60, start=datetime(2025, 1, 1), end=datetime(2025, 1, 4),
            daily_from=time(5), daily_until=time(21)))))
    text = msgspec.json.encode(schedule)
    assert msgspec.json.decode(text, type=Schedule) == schedule


def test_decoding_invalid_storage_is_a_validation_error_not_a_crash() -> None:
    bad = (b'{"commune":"xa","programmes":[{"programme_id":"p","items":[],'
           b'"recurrence":{"type":"once","on":"2025-01-01","at":"05:00:00"}}]}')
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(bad, type=Schedule)


def test_precedence_orders_placement_priority_and_rank() -> None:
    def p(priority: Priority, placement: Placement = Placement.AT_TIME, rank: int = 0) -> tuple[
            int, ...]:
        return Programme(programme_id="p", items=(item("a", 1),), recurrence=ONCE,
                         priority=priority, placement=placement, rank=rank).precedence

    assert p(Priority.EMERGENCY) > p(Priority.LIVE) > p(Priority.PRIORITY) > p(
        Priority.NORMAL) > p(Priority.FILL)
    assert p(Priority.NORMAL, Placement.OVERRIDE) > p(Priority.NORMAL) > p(
        Priority.NORMAL, rank=1)
    assert p(Priority.PRIORITY) > p(Priority.NORMAL, Placement.OVERRIDE)
    assert p(Priority.FILL) > p(Priority.EMERGENCY, Placement.APPEND)


def test_a_session_running_past_midnight_holds_items_after_midnight() -> None:
    night = Session(session_id="night", start=time(23, 30), cap_minutes=60)
    schedule = Schedule(commune="xa", sessions=(night,), programmes=(
        Programme(programme_id="late", items=(item("l", 10),), session="night",
                  recurrence=Daily(at=time(0, 15))),))
    day = date(2025, 12, 31)
    timeline = resolve(schedule, topology({"v": ["c"]}), ns(day, time(12)),
                       ns(date(2026, 1, 1), time(12)))
    (slot,) = timeline.for_agent("a-c")
    assert summary(timeline, "a-c") == [("late", "00:15", 10)]
    assert (slot.session, slot.session_start_ns) == ("night", ns(day, time(23, 30)))
    assert slot.window_end_ns == ns(date(2026, 1, 1), time(0, 30))
