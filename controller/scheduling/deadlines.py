"""Prefetch deadlines from the station's own plans: the content service's ``deadline``
hook.

An agent's ``Fetch`` carries the earliest air time in its own documents, but the station
knows the plans it published, and an agent that is behind (an older plan, a clock it
does not trust yet, older software) would order the commune's transfers by the wrong
times. :class:`AirTimes` holds, per agent key and item, the air times of the plans the
planner built in its last round, and answers the earliest that is still needed, with the
rule the agent itself applies (``agent.fetcher.needed_from_documents``): a slot's item is
needed by its start until the slot's window ends; a routine item by the plan's horizon.
The content service then orders transfers, and raises its "late" alert, by those times.

It follows plan changes because the planner refreshes it in every round (the
APScheduler rounds of ``component.py``: the rolling one, and the debounced one after any
change), *before* it publishes the plans, so an agent fetching what a new plan names is
already judged by that plan. Items the plans do not name (pins, an item an agent asks for
on its own) get no answer, so the agent's own deadline stands; so does the active
emergency's item, which is due now, whatever later airing a plan has for it (the
component tracks it from the emergency events, which are published before the emergency
document is).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from sqlmodel import Session, col, select

from controller.storage.tables.registry import Agent, AgentStatus
from protocols.clock import Clock
from protocols.messages import Plan

Times = tuple[tuple[int, int], ...]  # (start, needed until), by start


class AirTimes:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._slots: dict[bytes, dict[bytes, Times]] = {}
        self._routine: dict[bytes, dict[bytes, int]] = {}
        self._emergency: bytes | None = None

    def update(self, plans: Iterable[Plan], keys: Mapping[str, bytes]) -> None:
        """Replace everything with ``plans`` (agents without a key in ``keys`` cannot
        fetch, so they are left out)."""
        slots: dict[bytes, dict[bytes, Times]] = {}
        routine: dict[bytes, dict[bytes, int]] = {}
        for plan in plans:
            key = keys.get(plan.agent_id)
            if key is None:
                continue
            times: dict[bytes, list[tuple[int, int]]] = {}
            for slot in plan.slots:
                times.setdefault(slot.content, []).append(
                    (slot.start_ns, max(slot.window_end_ns, slot.start_ns)))
            slots[key] = {content: tuple(sorted(found)) for content, found in times.items()}
            routine[key] = {item.content: plan.horizon_end_ns for item in plan.routine}
        with self._lock:
            self._slots, self._routine = slots, routine

    def set_emergency(self, content: bytes | None) -> None:
        with self._lock:
            self._emergency = content

    def deadline(self, sha256: bytes, agent_key: bytes) -> int | None:
        """``DeadlineHook``: the earliest air time still ahead for this agent and item."""
        now = self._clock.wall_ns()
        with self._lock:
            if sha256 == self._emergency:
                return None
            times = self._slots.get(agent_key, {}).get(sha256, ())
            horizon = self._routine.get(agent_key, {}).get(sha256)
        found = next((start for start, until in times if until >= now), None)
        if found is None:
            return horizon
        return found if horizon is None else min(found, horizon)


def agent_keys(session: Session, commune_id: int) -> dict[str, bytes]:
    """The CURVE keys of the commune's active agents (the content service knows agents
    by key)."""
    return {agent: bytes(key) for agent, key in session.exec(
        select(Agent.id, Agent.curve_public_key).where(
            Agent.commune_id == commune_id, Agent.status == AgentStatus.ACTIVE,
            col(Agent.curve_public_key).is_not(None))) if key is not None}
