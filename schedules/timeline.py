"""The resolver's output: per-agent timelines that map one-to-one onto ``PlanSlot``.

Slot ids are stable across re-planning as long as the programme and its occurrence do
not change: ``<programme>-<occurrence UTC start>`` with ``-<n>`` (the airing's index
within the occurrence) when the occurrence airs more than once (playlists, repeats).
The *complete* airing always carries that base id, so proof of play matches the plan;
an interrupted fragment adds ``-p<k>``, an airing extrapolated from the routine ``-x``.
"""

from __future__ import annotations

import msgspec

from protocols.messages import HardTimePolicy, PlanSlot, Priority

from .localtime import NS_PER_MS, utc_label
from .model import Placement, Precedence, precedence_of
from .notices import AnyNotice


def slot_id(programme: str, occurrence_ns: int, airing: int, airings: int,
            extrapolated: bool = False) -> str:
    base = f"{programme}-{utc_label(occurrence_ns)}"
    if airings > 1:
        base = f"{base}-{airing}"
    return f"{base}-x" if extrapolated else base


def fragment_id(base: str, k: int) -> str:
    return f"{base}-p{k}"


class ResolvedSlot(msgspec.Struct, frozen=True, kw_only=True):
    """One airing on an agent. ``fragment``: interrupted by a pre-emptor after
    ``duration_ms``; the complete airing (if it restarted in time) is another slot."""

    slot_id: str
    programme: str
    start_ns: int
    duration_ms: int
    content: bytes
    priority: Priority
    policy: HardTimePolicy
    window_end_ns: int  # the airing (incl. any restart) must finish by then
    requested_ns: int  # when the programme asked for this airing (UTC)
    occurrence_ns: int
    airing: int  # index within the occurrence
    rank: int = 0
    placement: Placement = Placement.AT_TIME
    session: str | None = None
    session_start_ns: int | None = None
    fragment: bool = False
    continued: bool = False  # followed the previous item of its pass without a choice
    extrapolated: bool = False

    @property
    def end_ns(self) -> int:
        return self.start_ns + self.duration_ms * NS_PER_MS

    @property
    def precedence(self) -> Precedence:
        return precedence_of(self.priority, self.placement, self.rank)

    def to_plan_slot(self) -> PlanSlot:
        return PlanSlot(slot_id=self.slot_id, programme=self.programme, start_ns=self.start_ns,
                        content=self.content, duration_ms=self.duration_ms,
                        priority=self.priority, policy=self.policy,
                        window_end_ns=self.window_end_ns)


class Lane(msgspec.Struct, frozen=True, kw_only=True):
    """Agents that receive exactly the same programmes, hence the same timeline."""

    agents: tuple[str, ...]
    slots: tuple[ResolvedSlot, ...]


class Timeline(msgspec.Struct, frozen=True, kw_only=True):
    """Every agent's resolved timeline for ``[start_ns, end_ns)``, and what did not fit."""

    commune: str
    tz: str
    start_ns: int
    end_ns: int
    lanes: tuple[Lane, ...]
    notices: tuple[AnyNotice, ...]

    @property
    def agents(self) -> tuple[str, ...]:
        return tuple(sorted(a for lane in self.lanes for a in lane.agents))

    def for_agent(self, agent_id: str) -> tuple[ResolvedSlot, ...]:
        for lane in self.lanes:
            if agent_id in lane.agents:
                return lane.slots
        return ()

    def notices_for(self, agent_id: str) -> tuple[AnyNotice, ...]:
        return tuple(n for n in self.notices if agent_id in n.agents or not n.agents)


def plan_slots(timeline: Timeline, agent_id: str) -> list[PlanSlot]:
    """The ``Plan.slots`` of one agent: its timeline as wire slots, in air order."""
    return [slot.to_plan_slot() for slot in timeline.for_agent(agent_id)]
