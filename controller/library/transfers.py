"""Library items on their way to agents: what the content service is sending, per agent.

The content service (``controller.dataplane.content_service``) runs as a daemon
component and knows transfers by CURVE key and raw sha256; operators know agents by id
and items by title. The component plugs the running service into a ``ContentSlot`` (an
API built without a daemon, as in tests, simply reports it as not running), and
``transfer_report`` translates its view for one commune.

``distribution_report`` is one item's way to every agent that needs it: the agents whose
last published plan names it (a slot, the routine, or the commune's pins), each with the
latest standing the service noted (``controller.library.distribution``). An agent the
service has sent nothing to since the controller started is ``cached`` when its own
telemetry vouches for it (it applied exactly the plan last published to it and misses
no item: an agent that fetched the item before a restart), else ``waiting``.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Protocol

import msgspec
from sqlmodel import Session, col, select

from controller.dataplane.content_service import TransferProgress
from controller.fleet.presence import Presence, vouched_plan
from controller.storage.tables.library import LibraryItem
from controller.storage.tables.registry import Agent, AgentStatus
from controller.storage.tables.schedule import PublishedPlan
from protocols.content import NO_DEADLINE_NS
from protocols.messages import Plan

from .distribution import FINISHED, DistributionBoard, Standing


class TransferSource(Protocol):
    endpoint: str

    def transfers(self) -> list[TransferProgress]: ...

    def stats(self) -> dict[str, int]: ...


class ContentSlot:
    """Where the running content service is found (None: not running in this process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._source: TransferSource | None = None
        self._commune: str | None = None
        self._presence: Presence | None = None
        self.board = DistributionBoard()  # what the running service noted, per agent

    def plug(self, source: TransferSource, commune: str,
             presence: Presence | None = None) -> None:
        with self._lock:
            self._source, self._commune, self._presence = source, commune, presence

    def unplug(self) -> None:
        with self._lock:
            self._source = self._commune = self._presence = None

    def presence(self) -> Presence | None:
        """The fleet's live states of this station's agents, when the fleet link runs."""
        with self._lock:
            return self._presence

    def get(self) -> tuple[TransferSource | None, str | None]:
        with self._lock:
            return self._source, self._commune


@dataclass(frozen=True)
class TransferView:
    agent_id: str
    sha256: str
    title: str | None  # None: not (or no longer) in this commune's library
    size_bytes: int
    sent_bytes: int  # acknowledged by the agent (written to its cache)
    percent: int
    state: str  # sending | queued
    position: int  # transfers that go first, for a queued one
    need_by: dt.datetime | None  # the earliest air time the agent gave; None: pinned


@dataclass(frozen=True)
class TransfersReport:
    commune: str
    running: bool
    endpoint: str | None
    transfers: list[TransferView] = field(default_factory=list)
    # The whole service's counters (it serves the station's commune); empty otherwise.
    stats: dict[str, int] = field(default_factory=dict)


def transfer_report(session: Session, slot: ContentSlot, commune_id: int,
                    commune: str) -> TransfersReport:
    source, station_commune = slot.get()
    if source is None:
        return TransfersReport(commune=commune, running=False, endpoint=None)
    progress = source.transfers()
    keys = {t.agent for t in progress}
    agents = {bytes(agent.curve_public_key): agent.id for agent in session.exec(
        select(Agent).where(Agent.commune_id == commune_id,
                            col(Agent.curve_public_key).in_(keys)))
        if agent.curve_public_key is not None} if keys else {}
    shas = {t.content.hex() for t in progress}
    titles = dict(session.exec(select(LibraryItem.sha256, LibraryItem.title).where(
        LibraryItem.commune_id == commune_id, col(LibraryItem.sha256).in_(shas))).all()) \
        if shas else {}
    views = [TransferView(
        agent_id=agents[t.agent], sha256=t.content.hex(), title=titles.get(t.content.hex()),
        size_bytes=t.size, sent_bytes=t.acknowledged,
        percent=100 if t.size == 0 else min(100, t.acknowledged * 100 // t.size),
        state="sending" if t.active else "queued", position=t.position,
        need_by=_instant(t.need_by_ns))
        for t in progress if t.agent in agents]
    return TransfersReport(commune=commune, running=True, endpoint=source.endpoint,
                           transfers=views,
                           stats=source.stats() if commune == station_commune else {})


def _instant(ns: int) -> dt.datetime | None:
    """An agent's deadline as a time; None for "no deadline" (or one out of range)."""
    if ns >= NO_DEADLINE_NS:
        return None
    try:
        return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


@dataclass(frozen=True)
class AgentDistribution:
    agent_id: str
    targeted: bool  # its last published plan names the item
    state: str  # waiting | queued | sending | late | cached | failed
    percent: int
    sent_bytes: int
    size_bytes: int
    reason: str | None
    updated_at: dt.datetime | None


@dataclass(frozen=True)
class DistributionReport:
    commune: str
    sha256: str
    title: str
    size_bytes: int
    running: bool
    agents: list[AgentDistribution]

    @property
    def pending(self) -> int:
        """Targeted agents whose transfer has not ended (waiting, queued, sending, late)."""
        return sum(1 for a in self.agents if a.targeted and a.state not in FINISHED)


def distribution_report(session: Session, slot: ContentSlot, commune_id: int, commune: str,
                        item: LibraryItem, now_ns: int) -> DistributionReport:
    agents = dict(session.exec(select(Agent.id, Agent.status).where(
        Agent.commune_id == commune_id)).all())
    content = bytes.fromhex(item.sha256)
    marks = {row.agent_id: (row.plan_epoch, row.plan_version)
             for row in session.exec(select(PublishedPlan).where(
                 PublishedPlan.commune_id == commune_id))
             if agents.get(row.agent_id) == AgentStatus.ACTIVE
             and _needs(row.document, content, now_ns)}
    seen = {s.agent_id: s for s in slot.board.of_item(item.sha256) if s.agent_id in agents}
    source, station_commune = slot.get()
    presence = slot.presence()
    unseen = [agent for agent in marks if agent not in seen]
    states = presence(unseen) if presence and unseen and station_commune == commune else {}
    vouched = {agent for agent in unseen if vouched_plan(states.get(agent)) == marks[agent]}
    rows = [_row(agent_id, agent_id in marks, seen.get(agent_id), item.size_bytes,
                 agent_id in vouched)
            for agent_id in sorted(set(marks) | set(seen))]
    return DistributionReport(commune=commune, sha256=item.sha256, title=item.title,
                              size_bytes=item.size_bytes, running=source is not None,
                              agents=rows)


def _needs(document: bytes, content: bytes, now_ns: int) -> bool:
    """Does this published plan still need ``content`` (a pin, the routine, or a slot
    whose window has not ended: the agent may evict what only an ended slot named)?"""
    try:
        plan = msgspec.msgpack.decode(document, type=Plan)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return False
    return content in plan.pins or any(r.content == content for r in plan.routine) or \
        any(s.content == content and s.window_end_ns >= now_ns for s in plan.slots)


def _row(agent_id: str, targeted: bool, standing: Standing | None, size: int,
         vouched: bool) -> AgentDistribution:
    if standing is None and vouched:
        return AgentDistribution(agent_id, targeted, "cached", 100, size, size,
                                 "reported by the agent", None)
    if standing is None:
        return AgentDistribution(agent_id, targeted, "waiting", 0, 0, size, None, None)
    return AgentDistribution(agent_id, targeted, standing.state, standing.percent,
                             standing.sent_bytes, standing.size_bytes or size,
                             standing.reason, standing.updated_at)
