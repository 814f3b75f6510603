"""The station's estimate of when an item can be in an agent's cache, for the conflict
check ("cannot reach <agent> in time") when programming.

For each targeted agent and each item of the programme:

1. **cached** — ready now. The agent says so itself: its retained telemetry reports the
   plan version it applied and how many items its documents need that it has not cached
   (``cache.missing``). When that is the plan the station last published to it and
   nothing is missing, every item that plan still needs (slots whose window has not
   ended, the standing routine, the pins) is in its cache.
2. **not in the library** — no estimate (nothing could send it).
3. **offline** — no estimate either: an agent that is not connected cannot be promised
   anything, however far ahead the airing is. The conflict names it with its last-seen
   time (or says it never connected) rather than pretend.
4. **online** — when a transfer would finish. The content service sends earliest
   deadline first under one aggregate egress cap, and the most urgent transfer takes the
   whole cap, so a transfer due at ``D`` (the item's first airing in the programme, which
   the agent gives as its deadline) finishes once every byte due no later than ``D`` is
   out at the cap (:func:`ready_by`; the service's own "late" alert uses the same
   arithmetic): what queued transfers due by then still owe (one already under way for
   this agent and item counts with its remaining bytes), and the programme's own copies
   of the items it airs by then. Every targeted agent lacking an item asks for it with
   the same deadline and which one asks first is not known, so each is promised the time
   the last copy is out. The concurrency limit does not enter: it bounds how many
   transfers hold a slot, but the service pre-empts the latest-airing one for a sooner
   item and gives the most urgent the whole cap, so the bytes ahead and the cap alone
   set the finish. Without a cap the station sets no bound: an online agent counts as
   ready now.

Only for the station's own commune: its fleet link and its content service know nothing
of the agents of other communes the same database (and API) may hold, so those keep the
library's answer (``LibraryReadiness``).

Cheap by design: one snapshot of the transfer queue and of the presence tracker, three
indexed queries, and a plan document decoded only when the agent claims to have applied
a version not decoded before. Nothing runs per chunk.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec
from sqlmodel import col, select

from controller.dataplane.content_service import DeadlineHook, TransferProgress
from controller.fleet.presence import LiveState, PlanMark, Presence, vouched_plan
from controller.storage.database import Database
from controller.storage.tables.library import LibraryItem
from controller.storage.tables.registry import Agent
from controller.storage.tables.schedule import PublishedPlan
from protocols.messages import Plan

from .deadlines import AirTimes
from .readiness import NO_ESTIMATE, LibraryReadiness, Reach, Readiness

if TYPE_CHECKING:
    from controller.daemon import Station
    from controller.dataplane.content_service import ContentService

Transfers = Callable[[], list[TransferProgress]]
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def ready_by(now_ns: int, deadline_ns: int, queue: Sequence[tuple[int, int]],
             rate: float | None) -> int:
    """When a transfer due at ``deadline_ns`` is done, earliest deadline first at ``rate``
    bytes per second: once every byte of ``queue`` (``(deadline, bytes)`` of every
    transfer, its own included) due no later than it is out. One due at the same instant
    was asked first, so it goes first."""
    if rate is None or rate <= 0:
        return now_ns
    ahead = sum(remaining for deadline, remaining in queue if deadline <= deadline_ns)
    return now_ns + int(ahead * 1e9 / rate)


@dataclass(frozen=True)
class PlanContents:
    """What a plan makes its agent keep cached: slot items until their window ends, and
    the routine and pins for good (as the agent's ``needed_from_documents`` does)."""

    slots: tuple[tuple[bytes, int], ...]  # (content, needed until)
    standing: frozenset[bytes]

    @classmethod
    def of(cls, plan: Plan) -> PlanContents:
        return cls(tuple((s.content, max(s.window_end_ns, s.start_ns)) for s in plan.slots),
                   frozenset([r.content for r in plan.routine] + list(plan.pins)))

    def held(self, now_ns: int) -> set[bytes]:
        return {content for content, until in self.slots if until >= now_ns} | self.standing


def last_seen_ns(state: LiveState | None) -> int | None:
    if state is None or state.last_seen_at is None:
        return None
    return (state.last_seen_at - EPOCH) // dt.timedelta(microseconds=1) * 1000


class DeliveryEstimator:
    """The ``ReadinessEstimator`` of a running station (see the module docstring)."""

    def __init__(self, db: Database, commune_id: int, presence: Presence,
                 transfers: Transfers, rate_bytes_per_s: float | None) -> None:
        self.db = db
        self.commune_id = commune_id
        self.elsewhere = LibraryReadiness(db)
        self.presence = presence
        self.transfers = transfers
        self.rate = rate_bytes_per_s
        self._decoded: dict[str, tuple[PlanMark, PlanContents]] = {}
        self._lock = threading.Lock()

    def estimate(self, commune_id: int, now_ns: int, agents: Sequence[str],
                 airs: Mapping[bytes, int]) -> Readiness:
        if commune_id != self.commune_id:
            return self.elsewhere.estimate(commune_id, now_ns, agents, airs)
        agents, contents = list(dict.fromkeys(agents)), list(airs)
        states = self.presence(agents)
        sizes, keys = self._library_and_keys(commune_id, agents, contents)
        cached = self._cached(agents, states, now_ns)
        answers: dict[tuple[str, bytes], Reach] = {}
        needing: dict[bytes, list[str]] = {}
        for agent in agents:
            state = states.get(agent)
            for content in contents:
                if content in cached.get(agent, ()):
                    answers[(agent, content)] = Reach(now_ns)
                elif content.hex() not in sizes:
                    answers[(agent, content)] = NO_ESTIMATE
                elif state is None or not state.online:
                    answers[(agent, content)] = Reach(None, offline=True,
                                                      last_seen_ns=last_seen_ns(state))
                else:
                    needing.setdefault(content, []).append(agent)
        if needing:
            answers.update(self._transfers(now_ns, needing, airs, sizes, keys))
        return Readiness(answers)

    def _transfers(self, now_ns: int, needing: dict[bytes, list[str]],
                   airs: Mapping[bytes, int], sizes: dict[str, int],
                   keys: dict[str, bytes]) -> dict[tuple[str, bytes], Reach]:
        """The programme's copies join the queue, each due at its item's first airing."""
        snapshot = self.transfers()
        mine = {(keys[a], c) for c, wanted in needing.items() for a in wanted if a in keys}
        under_way = {(t.agent, t.content): max(0, t.size - t.acknowledged) for t in snapshot
                     if (t.agent, t.content) in mine}
        queue = [(t.need_by_ns, max(0, t.size - t.acknowledged)) for t in snapshot
                 if (t.agent, t.content) not in mine]
        for content, wanted in needing.items():
            size = sizes[content.hex()]
            queue.extend((airs[content], under_way.get((keys.get(a, b""), content), size))
                         for a in wanted)
        answers: dict[tuple[str, bytes], Reach] = {}
        for content, wanted in needing.items():
            ready = Reach(ready_by(now_ns, airs[content], queue, self.rate))
            answers.update({(agent, content): ready for agent in wanted})
        return answers

    def _library_and_keys(self, commune_id: int, agents: list[str], contents: list[bytes]
                          ) -> tuple[dict[str, int], dict[str, bytes]]:
        with self.db.session() as session:
            sizes = dict(session.exec(select(LibraryItem.sha256, LibraryItem.size_bytes).where(
                LibraryItem.commune_id == commune_id,
                col(LibraryItem.sha256).in_([c.hex() for c in contents]))).all())
            keys = {agent: bytes(key) for agent, key in session.exec(
                select(Agent.id, Agent.curve_public_key).where(col(Agent.id).in_(agents)))
                if key is not None}
        return sizes, keys

    def _cached(self, agents: list[str], states: Mapping[str, LiveState],
                now_ns: int) -> dict[str, set[bytes]]:
        """What each agent holds, where its telemetry vouches for its last plan."""
        claimed = {agent: mark for agent in agents
                   if (mark := vouched_plan(states.get(agent))) is not None}
        if not claimed:
            return {}
        with self.db.session() as session:
            published = {row[0]: (row[1], row[2]) for row in session.exec(
                select(PublishedPlan.agent_id, PublishedPlan.plan_epoch,
                       PublishedPlan.plan_version).where(
                    col(PublishedPlan.agent_id).in_(list(claimed))))}
            current = [a for a, mark in claimed.items() if published.get(a) == mark]
            with self._lock:
                stale = [a for a in current if a not in self._decoded
                         or self._decoded[a][0] != published[a]]
            documents = dict(session.exec(select(PublishedPlan.agent_id,
                                                 PublishedPlan.document).where(
                col(PublishedPlan.agent_id).in_(stale))).all()) if stale else {}
        with self._lock:
            for agent, document in documents.items():
                plan = msgspec.msgpack.decode(document, type=Plan)
                self._decoded[agent] = (published[agent], PlanContents.of(plan))
            return {agent: self._decoded[agent][1].held(now_ns) for agent in current
                    if agent in self._decoded and self._decoded[agent][0] == published[agent]}


# ------------------------------------------------------------------------ station wiring


def plan_deadlines(station: Station) -> DeadlineHook | None:
    """The content service's ``deadline`` hook: the air times in the planner's plans."""
    air_times = getattr(station.extras.get("planner"), "air_times", None)
    return air_times.deadline if isinstance(air_times, AirTimes) else None


def fleet_presence(station: Station) -> Presence | None:
    """The running fleet link's live states (``presence.get``), if it runs here."""
    from controller.fleet.component import FleetComponent

    fleet = station.extras.get("fleet")
    return fleet.presence.get if isinstance(fleet, FleetComponent) else None


def plug_delivery_estimate(station: Station, service: ContentService) -> bool:
    """Conflict checks ask the running content service and the fleet's presence from now
    on; whether it could be plugged (it needs the fleet link)."""
    from controller.fleet.component import FleetComponent

    fleet = station.extras.get("fleet")
    if not isinstance(fleet, FleetComponent):
        return False
    station.services.scheduling.programmes.plug_readiness(DeliveryEstimator(
        station.db, fleet.commune_id, fleet.presence.get, service.transfers,
        service.limits.egress_bytes_per_s))
    return True
