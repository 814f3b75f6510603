"""The standing routine: what an agent may keep airing when it hears nothing.

A plan holds a resolved timeline for N days; past that horizon an agent that is cut
off falls back on the commune's *routine*: the open-ended daily and weekly programmes
(the 05:00 relay, the evening session), as ``RoutineItem``s. Only open-ended rules
qualify: a date range, a one-off or a storm bulletin has an end the agent could not
know it has passed, so extrapolating it could air a stale warning.

Session caps are applied once per weekday when the routine is extracted, in the same
precedence order as the resolver, so the routine never overbooks a session. Expansion
on the agent plays the items through the same air-time rules, so the extrapolated
timeline never overlaps either; every slot it produces is flagged ``extrapolated`` and
its id ends in ``-x``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from zoneinfo import ZoneInfo

from protocols.messages import RoutineItem

from .airtime import air
from .localtime import NS_PER_MS, local_date, seconds_of_day, zone
from .model import DEFAULT_MAX_DELAY_MINUTES, Item, Placement, Programme, Schedule
from .recurrence import (
    Daily,
    Weekday,
    Weekly,
    is_open_ended,
    occurrences,
    rule_weekdays,
    start_time,
)
from .runs import Airing, RunSpec
from .timeline import ResolvedSlot, slot_id
from .topology import Topology, resolve_targets

_DAY_S = 86_400


@dataclass(slots=True)
class _Pass:
    programme: Programme
    repetition: int
    start_s: int  # local seconds from the start of its day (beyond a day: after midnight)
    weekdays: int  # the days the pass belongs to (its session's days)


def _rotate(mask: int, days: int) -> int:
    """Weekday bits moved ``days`` later (an airing that spills past midnight)."""
    days %= 7
    return ((mask << days) | (mask >> (7 - days))) & 0x7F


def _ceil_s(ms: int) -> int:
    return -(-ms // 1000)


def extract_routine(schedule: Schedule, topology: Topology, agent_id: str,
                    from_ns: int) -> tuple[RoutineItem, ...]:
    """The routine of ``agent_id`` in force at ``from_ns`` (normally the plan horizon).

    Item start times are rounded up to the second (``RoutineItem.local_start_s``), so
    back-to-back items never overlap after rounding.
    """
    tz = schedule.zone
    today = local_date(from_ns, tz)
    passes: list[_Pass] = []
    for programme in sorted(schedule.programmes, key=lambda p: p.programme_id):
        rule = programme.recurrence
        if not is_open_ended(rule) or agent_id not in resolve_targets(
                programme.targets, topology).agents:
            continue
        if isinstance(rule, Daily | Weekly) and rule.since is not None and rule.since > today:
            continue
        session = schedule.session(programme.session) if programme.session else None
        at = start_time(rule)
        if at is None:
            assert session is not None  # guaranteed by Programme validation
            at = session.start
        start_s = seconds_of_day(at)
        mask = int(rule_weekdays(rule))
        window_end: int | None = None
        if session is not None:
            session_s = seconds_of_day(session.start)
            if start_s < session_s:
                # after midnight, in the window that opened the day before: count the
                # pass on the session's day (for its weekdays and its cap)
                start_s += _DAY_S
                mask = _rotate(mask, -1)
            mask &= int(session.weekdays)
            window_end = session_s + session.window_minutes * 60
        stride_ms = programme.pass_ms + programme.repeat_gap_s * 1000
        for repetition in range(programme.repeat):
            pass_start = start_s + _ceil_s(repetition * stride_ms)
            if window_end is not None and pass_start + _ceil_s(programme.pass_ms) > window_end:
                continue  # never fits its session: the resolver would drop it too
            if mask:
                passes.append(_Pass(programme, repetition, pass_start, mask))
    _apply_caps(schedule, passes)
    items: set[RoutineItem] = set()
    for p in passes:
        offset_ms = 0
        for item in p.programme.items:
            local = p.start_s + _ceil_s(offset_ms)
            weekdays = _rotate(p.weekdays, local // _DAY_S)
            if weekdays:
                items.add(RoutineItem(
                    programme=p.programme.programme_id, content=item.content,
                    weekdays=weekdays, local_start_s=local % _DAY_S,
                    duration_ms=item.duration_ms, priority=p.programme.priority,
                    policy=p.programme.policy))
            offset_ms += item.duration_ms
    return tuple(sorted(items, key=_routine_order))


def _routine_order(item: RoutineItem) -> tuple[int, str, int, bytes, int]:
    return item.local_start_s, item.programme, item.weekdays, item.content, item.duration_ms


def _apply_caps(schedule: Schedule, passes: list[_Pass]) -> None:
    """Clear, weekday by weekday, the bits of passes that overbook their session."""
    def order(p: _Pass) -> tuple[tuple[int, ...], int, str, int]:
        return (tuple(-x for x in p.programme.precedence), p.start_s,
                p.programme.programme_id, p.repetition)

    for session in schedule.sessions:
        members = sorted((p for p in passes if p.programme.session == session.session_id),
                         key=order)
        for bit in range(7):
            used = 0
            for p in members:
                if not p.weekdays & (1 << bit):
                    continue
                if used + p.programme.pass_ms <= session.cap_ms:
                    used += p.programme.pass_ms
                else:
                    p.weekdays &= ~(1 << bit)


def expand_routine(items: list[RoutineItem] | tuple[RoutineItem, ...], tz: str | ZoneInfo,
                   start_ns: int, end_ns: int) -> tuple[ResolvedSlot, ...]:
    """Extrapolated slots for ``[start_ns, end_ns)``: what the agent airs past its plan.

    Each airing may start up to the default free-standing delay late (queued behind a
    clashing item, or restarting after pre-emption), like a free-standing programme.
    """
    tzinfo = zone(tz) if isinstance(tz, str) else tz
    runs: list[RunSpec] = []
    taken: set[str] = set()
    for item in sorted(set(items), key=_routine_order):
        if item.duration_ms <= 0:
            continue  # airs nothing; an agent must not fail on it
        seconds = item.local_start_s
        at = time(seconds // 3600, seconds % 3600 // 60, seconds % 60)
        rule = Weekly(weekdays=Weekday(item.weekdays), at=at)
        audio = Item(content=item.content, duration_ms=item.duration_ms)
        for t in occurrences(rule, tzinfo, start_ns, end_ns):
            base = slot_id(item.programme, t, 0, 1, extrapolated=True)
            unique, n = base, 1
            while unique in taken:  # two items of one programme at one instant
                unique, n = f"{base}{n}", n + 1
            taken.add(unique)
            runs.append(RunSpec(
                programme=item.programme, priority=item.priority, policy=item.policy, rank=0,
                placement=Placement.AT_TIME, occurrence_ns=t, repetition=0, requested_ns=t,
                window_end_ns=t + (item.duration_ms + DEFAULT_MAX_DELAY_MINUTES * 60_000)
                * NS_PER_MS,
                airings=(Airing(index=0, item=audio, base_id=unique, requested_ns=t),),
                extrapolated=True))
    slots, _ = air(runs, ())
    return tuple(slots)
