"""What the documents need cached, and by when: the fetcher's only input."""

from __future__ import annotations

import hashlib

from agent.fetcher import needed_from_documents
from protocols.content import NO_DEADLINE_NS
from protocols.messages import (
    Emergency,
    HardTimePolicy,
    Plan,
    PlanSlot,
    Priority,
    RoutineItem,
)

NOW = 1_767_225_600 * 10**9
H = 3600 * 10**9


def sha(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


def slot(content: bytes, start: int, end: int) -> PlanSlot:
    return PlanSlot(slot_id=f"s{start}", programme="ban-tin", start_ns=start, content=content,
                    duration_ms=900_000, priority=Priority.NORMAL,
                    policy=HardTimePolicy.QUEUE_AFTER, window_end_ns=end)


def plan(*slots: PlanSlot, routine: list[RoutineItem] | None = None,
         pins: list[bytes] | None = None) -> Plan:
    return Plan(version=1, issued_ns=NOW, agent_id="cum-loa-1", tz="Asia/Ho_Chi_Minh",
                horizon_end_ns=NOW + 72 * H, slots=list(slots), routine=routine or [],
                pins=pins or [])


def test_slots_give_their_earliest_future_airing() -> None:
    morning, evening = sha("morning"), sha("evening")
    needed = needed_from_documents(plan(
        slot(morning, NOW - 2 * H, NOW - H),  # aired already: its window is over
        slot(morning, NOW + 20 * H, NOW + 21 * H),
        slot(evening, NOW + 12 * H, NOW + 13 * H),
        slot(evening, NOW + 4 * H, NOW + 5 * H)), None, NOW)
    assert needed == {morning: NOW + 20 * H, evening: NOW + 4 * H}


def test_a_slot_still_in_its_window_is_still_needed() -> None:
    item = sha("pre-empted, may restart")
    needed = needed_from_documents(plan(slot(item, NOW - H, NOW + H)), None, NOW)
    assert needed == {item: NOW - H}


def test_routine_and_pins() -> None:
    routine = RoutineItem(programme="vov", content=sha("routine"), weekdays=127,
                          local_start_s=5 * 3600, duration_ms=1_800_000,
                          priority=Priority.FILL, policy=HardTimePolicy.SKIP_IF_BUSY)
    needed = needed_from_documents(plan(routine=[routine], pins=[sha("pin")]), None, NOW)
    assert needed == {sha("routine"): NOW + 72 * H, sha("pin"): NO_DEADLINE_NS}


def test_the_active_emergency_comes_first_and_a_stopped_one_needs_nothing() -> None:
    storm = sha("storm")
    emergency = Emergency(version=3, issued_ns=NOW, emergency_id="bao-so-3", active=True,
                          content=storm, villages=[], started_ns=NOW - 60 * 10**9,
                          repeat_every_s=1800)
    needed = needed_from_documents(plan(slot(sha("x"), NOW + H, NOW + 2 * H)), emergency, NOW)
    assert min(needed, key=lambda k: needed[k]) == storm
    stopped = Emergency(version=4, issued_ns=NOW, emergency_id="bao-so-3", active=False,
                        content=storm, villages=[], started_ns=NOW - 60 * 10**9)
    assert storm not in needed_from_documents(None, stopped, NOW)
    assert needed_from_documents(None, None, NOW) == {}
