"""Programmes -> *runs*: one pass of a playlist, for one occurrence, ready to air.

A run is the unit the air-time rules work on: its airings play back to back, it has a
precedence, a window it must finish in, and (in a session) the session occurrence whose
cap it draws on. Runs do not depend on the agent, so one expansion serves every lane.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from protocols.messages import HardTimePolicy, Priority

from .localtime import NS_PER_MS
from .model import (
    DEFAULT_MAX_DELAY_MINUTES,
    Item,
    Placement,
    Precedence,
    Programme,
    Schedule,
    precedence_of,
)
from .recurrence import Daily, DateRange, Weekly, occurrences
from .timeline import slot_id

SessionKey = tuple[str, int]  # (session id, occurrence start ns)


@dataclass(frozen=True, slots=True)
class Airing:
    index: int  # within the occurrence
    item: Item
    base_id: str
    requested_ns: int


@dataclass(frozen=True, slots=True)
class RunSpec:
    programme: str
    priority: Priority
    policy: HardTimePolicy
    rank: int
    placement: Placement
    occurrence_ns: int
    repetition: int
    requested_ns: int
    window_end_ns: int
    airings: tuple[Airing, ...]
    session: SessionKey | None = None
    cap_ms: int | None = None
    extrapolated: bool = False
    # Derived once: the air-time rules compare these hundreds of thousands of times a year.
    precedence: Precedence = field(init=False)
    """Higher wins (see ``Programme.precedence``)."""
    best_first: Precedence = field(init=False)
    """``precedence`` negated, for ascending sorts and heaps."""
    order: tuple[int, str, str] = field(init=False)
    """Tie-break after precedence: earlier request, then programme id, then the (unique)
    id of the first airing, so no two runs ever compare equal."""
    pass_ms: int = field(init=False)

    def __post_init__(self) -> None:
        precedence = precedence_of(self.priority, self.placement, self.rank)
        object.__setattr__(self, "precedence", precedence)
        object.__setattr__(self, "best_first", (-precedence[0], -precedence[1],
                                                -precedence[2], -precedence[3]))
        object.__setattr__(self, "order",
                           (self.requested_ns, self.programme, self.airings[0].base_id))
        object.__setattr__(self, "pass_ms", sum(a.item.duration_ms for a in self.airings))

    @property
    def can_fit(self) -> bool:
        """Whether the pass could air at all if nothing else were on air."""
        return self.requested_ns + self.pass_ms * NS_PER_MS <= self.window_end_ns


def expand_runs(schedule: Schedule, programme: Programme, start_ns: int,
                end_ns: int) -> tuple[list[RunSpec], list[int]]:
    """The runs of occurrences in ``[start_ns, end_ns)``, and the occurrences that fall
    outside every window of the programme's session.

    A recurring dated rule in a session fires only on the days its session runs (a daily
    item "in the weekday session" is not an error on Sundays); a one-off or an ``Every``
    rule outside the session is reported, since the operator asked for that exact time.
    """
    tz = schedule.zone
    session = schedule.session(programme.session) if programme.session else None
    default_at = session.start if session is not None else None
    runs: list[RunSpec] = []
    outside: list[int] = []
    airings_total = len(programme.items) * programme.repeat
    pass_ms = programme.pass_ms
    stride_ms = pass_ms + programme.repeat_gap_s * 1000
    for occurrence in occurrences(programme.recurrence, tz, start_ns, end_ns, default_at):
        window: tuple[int, int] | None = None
        if session is not None:
            window = session.window_at(occurrence, tz)
            if window is None:
                if not isinstance(programme.recurrence, Daily | Weekly | DateRange):
                    outside.append(occurrence)
                continue
        for repetition in range(programme.repeat):
            requested = occurrence + repetition * stride_ms * NS_PER_MS
            delay = programme.max_delay_minutes
            if delay is None and window is None:
                delay = DEFAULT_MAX_DELAY_MINUTES
            latest = (requested + (pass_ms + delay * 60_000) * NS_PER_MS
                      if delay is not None else None)
            if window is not None:
                latest = window[1] if latest is None else min(latest, window[1])
            assert latest is not None
            airings: list[Airing] = []
            offset_ms = 0
            for k, item in enumerate(programme.items):
                index = repetition * len(programme.items) + k
                airings.append(Airing(
                    index=index, item=item,
                    base_id=slot_id(programme.programme_id, occurrence, index, airings_total),
                    requested_ns=requested + offset_ms * NS_PER_MS))
                offset_ms += item.duration_ms
            runs.append(RunSpec(
                programme=programme.programme_id, priority=programme.priority,
                policy=programme.policy, rank=programme.rank, placement=programme.placement,
                occurrence_ns=occurrence, repetition=repetition, requested_ns=requested,
                window_end_ns=latest, airings=tuple(airings),
                session=(session.session_id, window[0]) if session and window else None,
                cap_ms=session.cap_ms if session is not None else None))
    return runs, outside
