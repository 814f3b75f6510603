"""Conflicts found when programming, not at air time.

Checking a proposed programme compares it with the *resolved* schedule it would join,
so the operator sees what is really on air on each agent: overlaps (with which
programmes, where, when), a session cap it would exceed (by how much), and airings an
agent cannot play because the content will not be cached by then. The two answers an
operator can give are ``override`` (the new programme wins over anything of its
priority or lower) and ``append`` (it goes after what is already there);
``apply_resolution`` turns the answer into a programme, and checking that programme
again shows its full effect in ``impact`` (who gets pre-empted, skipped or refused).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable
from enum import StrEnum

import msgspec

from protocols.messages import HardTimePolicy, Priority

from .localtime import NS_PER_MS
from .model import Placement, Programme, Schedule
from .notices import AnyNotice, notice_order
from .resolver import DEFAULT_HORIZON_NS, DEFAULT_LOOKBACK_NS, resolve
from .runs import RunSpec, SessionKey, expand_runs
from .timeline import Timeline
from .topology import Topology, resolve_targets

ReadyAt = Callable[[str, bytes], int | None]
"""``(agent_id, sha256) -> UTC ns`` when the content is expected in the agent's cache
(``None``: no estimate, e.g. the agent has been offline too long to tell)."""


class Overlap(msgspec.Struct, frozen=True, kw_only=True, tag="overlap"):
    """A proposed airing (at its requested time) overlaps something on air."""

    slot_id: str
    start_ns: int
    end_ns: int
    agents: tuple[str, ...]
    other_programme: str
    other_slot_id: str
    other_priority: Priority
    other_start_ns: int
    other_end_ns: int
    overridable: bool  # an override would win (the other is not of a higher precedence)


class SessionOverbooked(msgspec.Struct, frozen=True, kw_only=True, tag="session_cap"):
    """The session occurrence would need more airtime than its cap."""

    session: str
    session_start_ns: int
    agents: tuple[str, ...]
    cap_ms: int
    existing_ms: int
    proposed_ms: int

    @property
    def excess_ms(self) -> int:
        return self.existing_ms + self.proposed_ms - self.cap_ms


class NotCachedInTime(msgspec.Struct, frozen=True, kw_only=True, tag="not_cached_in_time"):
    """Airings that start before the content can reach the agent."""

    agent_id: str
    content: bytes
    first_slot_id: str
    first_start_ns: int
    ready_ns: int | None  # None: no estimate at all
    airings: int  # how many airings start too early
    # Why there is no estimate, when the caller knows (``ReadyAt`` only answers a time):
    # the agent is offline without the item, last heard from then (None: never).
    offline: bool = False
    last_seen_ns: int | None = None


Conflict = Overlap | SessionOverbooked | NotCachedInTime


class ConflictReport(msgspec.Struct, frozen=True, kw_only=True):
    programme: str
    conflicts: tuple[Conflict, ...]
    impact: tuple[AnyNotice, ...]  # notices the programme would add to the schedule

    @property
    def ok(self) -> bool:
        return not self.conflicts

    @property
    def overlaps(self) -> tuple[Overlap, ...]:
        return tuple(c for c in self.conflicts if isinstance(c, Overlap))

    @property
    def overridable(self) -> bool:
        """Whether ``override`` would win every overlap: nothing of a higher priority (or an
        override of its own) is in the way. Caps may still refuse others; see ``impact``
        after applying it."""
        return all(c.overridable for c in self.overlaps)


class Resolution(StrEnum):
    OVERRIDE = "override"
    APPEND = "append"


def apply_resolution(programme: Programme, resolution: Resolution) -> Programme:
    """The programme as the operator resolved it.

    ``override``: pre-empts what is on air at its time and takes its session's cap
    first, against anything of the same priority or lower. ``append``: waits for what
    is on air and what is waiting, and yields the session cap to the others.
    """
    if resolution is Resolution.OVERRIDE:
        return msgspec.structs.replace(programme, placement=Placement.OVERRIDE,
                                       policy=HardTimePolicy.PREEMPT)
    return msgspec.structs.replace(programme, placement=Placement.APPEND,
                                   policy=HardTimePolicy.QUEUE_AFTER)


def check_programme(schedule: Schedule, topology: Topology, proposed: Programme,
                    start_ns: int, end_ns: int | None = None, *,
                    ready_at: ReadyAt | None = None,
                    lookback_ns: int = DEFAULT_LOOKBACK_NS) -> ConflictReport:
    """Conflicts of ``proposed`` (new, or replacing the programme with its id) with
    ``schedule`` over ``[start_ns, end_ns)`` (default: 7 days).

    Raises ``ScheduleError`` when the proposed programme is invalid in this schedule
    (unknown session, a time outside its session).
    """
    end = start_ns + DEFAULT_HORIZON_NS if end_ns is None else end_ns
    base_schedule = schedule.without(proposed.programme_id)
    joined = base_schedule.with_programme(proposed)
    base = resolve(base_schedule, topology, start_ns, end, lookback_ns=lookback_ns)
    after = resolve(joined, topology, start_ns, end, lookback_ns=lookback_ns)
    runs, _ = expand_runs(joined, proposed, start_ns, end)
    agents = resolve_targets(proposed.targets, topology).agents
    conflicts: list[Conflict] = [*_overlaps(base, runs, agents, proposed),
                                 *_caps(base, runs, agents)]
    if ready_at is not None:
        conflicts.extend(_not_cached(runs, agents, ready_at))
    return ConflictReport(programme=proposed.programme_id, conflicts=tuple(conflicts),
                          impact=_new_notices(base, after))


def _overlaps(base: Timeline, runs: list[RunSpec], agents: tuple[str, ...],
              proposed: Programme) -> list[Overlap]:
    wanted = set(agents)
    as_override = apply_resolution(proposed, Resolution.OVERRIDE).precedence
    found: dict[tuple[str, str, int], tuple[Overlap, set[str]]] = {}
    airings = sorted(((a.requested_ns, a.requested_ns + a.item.duration_ms * NS_PER_MS, a)
                      for run in runs for a in run.airings), key=lambda x: (x[0], x[2].index))
    for lane in base.lanes:
        members = wanted.intersection(lane.agents)
        if not members:
            continue
        ends = [slot.end_ns for slot in lane.slots]  # sorted: a lane never overlaps
        for start, stop, airing in airings:
            i = bisect.bisect_right(ends, start)
            while i < len(lane.slots) and lane.slots[i].start_ns < stop:
                other = lane.slots[i]
                i += 1
                key = (airing.base_id, other.slot_id, other.start_ns)
                if key not in found:
                    found[key] = (Overlap(
                        slot_id=airing.base_id, start_ns=start, end_ns=stop, agents=(),
                        other_programme=other.programme, other_slot_id=other.slot_id,
                        other_priority=other.priority, other_start_ns=other.start_ns,
                        other_end_ns=other.end_ns,
                        overridable=as_override > other.precedence), set())
                found[key][1].update(members)
    return [msgspec.structs.replace(overlap, agents=tuple(sorted(members)))
            for _, (overlap, members) in sorted(
                found.items(), key=lambda kv: (kv[1][0].start_ns, kv[1][0].other_start_ns, kv[0]))]


def _caps(base: Timeline, runs: list[RunSpec], agents: tuple[str, ...]
          ) -> list[SessionOverbooked]:
    proposed_ms: dict[SessionKey, int] = defaultdict(int)
    cap_of: dict[SessionKey, int] = {}
    for run in runs:
        if run.session is not None and run.cap_ms is not None:
            proposed_ms[run.session] += run.pass_ms
            cap_of[run.session] = run.cap_ms
    if not proposed_ms:
        return []
    wanted = set(agents)
    grouped: dict[tuple[SessionKey, int], set[str]] = defaultdict(set)
    for lane in base.lanes:
        members = wanted.intersection(lane.agents)
        if not members:
            continue
        existing: dict[SessionKey, int] = defaultdict(int)
        for slot in lane.slots:
            if slot.session is not None and slot.session_start_ns is not None:
                existing[(slot.session, slot.session_start_ns)] += slot.duration_ms
        for key, needed in proposed_ms.items():
            if existing[key] + needed > cap_of[key]:
                grouped[(key, existing[key])].update(members)
    return [SessionOverbooked(session=key[0], session_start_ns=key[1],
                              agents=tuple(sorted(members)), cap_ms=cap_of[key],
                              existing_ms=existing_ms, proposed_ms=proposed_ms[key])
            for (key, existing_ms), members in sorted(grouped.items(),
                                                      key=lambda kv: (kv[0][0][1], kv[0]))]


def _not_cached(runs: list[RunSpec], agents: tuple[str, ...], ready_at: ReadyAt
                ) -> list[NotCachedInTime]:
    airings = sorted((a for run in runs for a in run.airings),
                     key=lambda a: (a.requested_ns, a.index))
    result: list[NotCachedInTime] = []
    for agent in agents:
        for content in sorted({a.item.content for a in airings}):
            ready = ready_at(agent, content)
            late = [a for a in airings if a.item.content == content
                    and (ready is None or a.requested_ns < ready)]
            if late:
                result.append(NotCachedInTime(
                    agent_id=agent, content=content, first_slot_id=late[0].base_id,
                    first_start_ns=late[0].requested_ns, ready_ns=ready, airings=len(late)))
    return result


def _new_notices(base: Timeline, after: Timeline) -> tuple[AnyNotice, ...]:
    """Notices of ``after`` that ``base`` did not have, agent by agent."""
    def per_agent(notice: AnyNotice, agent: str) -> AnyNotice:
        return msgspec.structs.replace(notice, agents=(agent,))

    before = {per_agent(n, a) for n in base.notices for a in n.agents}
    before.update(n for n in base.notices if not n.agents)
    fresh: list[AnyNotice] = []
    for notice in after.notices:
        if not notice.agents:
            if notice not in before:
                fresh.append(notice)
            continue
        agents = tuple(a for a in notice.agents if per_agent(notice, a) not in before)
        if agents:
            fresh.append(msgspec.structs.replace(notice, agents=agents))
    return tuple(sorted(fresh, key=notice_order))
