"""Approved programmes -> one signed plan document per agent, published only when changed.

Each round resolves the commune's *approved* schedule (drafts never get here) for every
active agent over ``[now, horizon_end)``, where the horizon end is rounded up to the hour
so that rounds within one hour resolve the same window. An agent's plan holds its
resolved slots (with ``fragment`` and ``village_peers``), the standing routine it may
extrapolate past the horizon, the commune's pinned content and the time zone.

A plan is published only if its *content* differs from the last one published to that
agent (stored in ``published_plan``, so this holds across restarts): the slots still
relevant now, the routine, the pins and the zone. Versions are never compared (each
publication takes a new one), and slots that merely ended since do not count as a change.

Every round also hands the plans it built, published or unchanged, to the content
service's prefetch deadlines (``deadlines.AirTimes``) *before* publishing any, so a
transfer an agent starts on receiving its new plan is ordered by that plan's air times.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass, field

import msgspec
from sqlmodel import select

from controller.events import EventBus, PlanPublished
from controller.registry.stations import find_commune
from controller.registry.timebase import StationTime
from controller.storage.database import Database
from controller.storage.tables.schedule import PublishedPlan
from protocols.inbox import DOCUMENT_TYPES
from protocols.messages import DocVersion, Plan, PlanSlot
from protocols.topics import DocKind
from schedules import (
    DEFAULT_HORIZON_NS,
    Schedule,
    Timeline,
    Topology,
    extract_routine,
    resolve,
)

from .deadlines import AirTimes, agent_keys
from .plan_records import forget_agent, published_plans, record_publication
from .publishing import DocumentPublisher
from .store import approved_schedule, pinned_content
from .topology import load_topology, village_of_agents

log = logging.getLogger("loaxa.scheduling")
HOUR_NS = 3600 * 10**9
MAX_SLOTS, MAX_ROUTINE, MAX_PINS = 20_000, 512, 512  # the wire's limits on a Plan
MAX_PLAN_BYTES = DOCUMENT_TYPES[DocKind.PLAN][1] - 4096  # room for the signed envelope


def horizon_end(now_ns: int, horizon_ns: int) -> int:
    return -(-now_ns // HOUR_NS) * HOUR_NS + horizon_ns


def slot_end(slot: PlanSlot) -> int:
    return slot.start_ns + slot.duration_ms * 1_000_000


def same_content(before: Plan, after: Plan, now_ns: int) -> bool:
    """Whether ``after`` tells the agent nothing ``before`` did not (from ``now_ns`` on)."""
    if (before.tz, before.routine, before.pins) != (after.tz, after.routine, after.pins):
        return False
    return [s for s in before.slots if slot_end(s) > now_ns] == \
        [s for s in after.slots if slot_end(s) > now_ns]


def agent_slots(timeline: Timeline, topology: Topology) -> dict[str, list[PlanSlot]]:
    """Every agent's wire slots. ``village_peers``: how many *other* agents of the same
    village air the same slot at the same instant (so a late agent joins in step)."""
    villages = village_of_agents(topology)
    sharing: dict[tuple[str, str, int], int] = defaultdict(int)
    for lane in timeline.lanes:
        for agent in lane.agents:
            for slot in lane.slots:
                sharing[(villages[agent], slot.slot_id, slot.start_ns)] += 1
    result: dict[str, list[PlanSlot]] = {}
    for agent in topology.agents:
        village = villages[agent]
        result[agent] = [msgspec.structs.replace(
            slot.to_plan_slot(), fragment=slot.fragment,
            village_peers=sharing[(village, slot.slot_id, slot.start_ns)] - 1)
            for slot in timeline.for_agent(agent)]
    return result


def build_plans(schedule: Schedule, topology: Topology, pins: list[bytes], now_ns: int,
                end_ns: int) -> dict[str, Plan]:
    """Every agent's plan body (version 0: the publisher numbers it)."""
    timeline = resolve(schedule, topology, now_ns, end_ns)
    plans: dict[str, Plan] = {}
    for agent, slots in agent_slots(timeline, topology).items():
        routine = list(extract_routine(schedule, topology, agent, end_ns))
        if len(slots) > MAX_SLOTS or len(routine) > MAX_ROUTINE:
            log.error("plan of %s cut to the wire's limits (%d slots, %d routine items)",
                      agent, len(slots), len(routine))
        plans[agent] = fit_to_wire(Plan(
            version=0, issued_ns=now_ns, agent_id=agent, tz=schedule.tz,
            horizon_end_ns=end_ns, slots=slots[:MAX_SLOTS], routine=routine[:MAX_ROUTINE],
            pins=pins[:MAX_PINS]))
    return plans


def fit_to_wire(plan: Plan) -> Plan:
    """An agent refuses a plan over the size cap, so a plan that would not fit (a storm
    bulletin every minute for a week) loses its latest slots, and its horizon ends at
    the first slot left out; the next rounds bring them as the horizon rolls on."""
    slots = plan.slots
    while slots and len(msgspec.msgpack.encode(plan)) > MAX_PLAN_BYTES:
        slots = slots[:len(slots) * 9 // 10]
        plan = msgspec.structs.replace(plan, slots=slots,
                                       horizon_end_ns=plan.slots[len(slots)].start_ns)
        log.error("plan of %s cut to %d slots to fit the wire", plan.agent_id, len(slots))
    return plan


@dataclass
class PlanRound:
    """What one round did."""

    published: dict[str, DocVersion] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)  # agents no longer in the topology
    withdrawn: int = 0


class Planner:
    def __init__(self, db: Database, bus: EventBus, time: StationTime, commune: str,
                 publisher: DocumentPublisher, *, horizon_ns: int = DEFAULT_HORIZON_NS,
                 air_times: AirTimes | None = None) -> None:
        self.db = db
        self.bus = bus
        self.time = time
        self.commune = commune
        self.publisher = publisher
        self.horizon_ns = horizon_ns
        self.air_times = air_times
        self._lock = threading.Lock()

    def replan(self) -> PlanRound:
        """One round; rounds never overlap (they compare against each other's results)."""
        with self._lock:
            return self._replan()

    def _replan(self) -> PlanRound:
        now_ns = self.time.clock.wall_ns()
        end_ns = horizon_end(now_ns, self.horizon_ns)
        with self.db.session() as session:
            unit = find_commune(session, self.commune)
            assert unit.id is not None
            commune_id = unit.id
            schedule, _ = approved_schedule(session, commune_id, self.commune,
                                            self.time.zone.key)
            topology = load_topology(session, commune_id)
            pins = [bytes.fromhex(p) for p in pinned_content(session, commune_id)]
            previous = published_plans(session, commune_id)
            keys = agent_keys(session, commune_id) if self.air_times is not None else {}
        plans = build_plans(schedule, topology, pins, now_ns, end_ns)
        if self.air_times is not None:
            self.air_times.update(plans.values(), keys)
        result = PlanRound()
        for agent, body in sorted(plans.items()):
            before = previous.get(agent)
            if before is not None and same_content(before[1], body, now_ns):
                result.unchanged.append(agent)
                continue
            self._publish(commune_id, body, now_ns, result)
        gone = sorted(set(previous) - set(topology.agents))
        if gone:
            with self.db.transaction() as session:
                now = self.time.now()
                for agent in gone:
                    result.withdrawn += forget_agent(session, agent, now, now_ns)
            result.forgotten = gone
        return result

    def _publish(self, commune_id: int, body: Plan, now_ns: int, result: PlanRound) -> None:
        signed: list[Plan] = []

        def build(version: int) -> Plan:
            signed.append(msgspec.structs.replace(body, version=version, issued_ns=now_ns))
            return signed[-1]

        mark = self.publisher.publish_document(DocKind.PLAN, build, body.agent_id)
        with self.db.transaction() as session:
            withdrawn = record_publication(session, commune_id, signed[-1], mark,
                                           self.time.now(), now_ns)
        result.published[body.agent_id] = mark
        result.withdrawn += withdrawn
        self.bus.publish(PlanPublished(
            commune_id=commune_id, commune=self.commune, agent_id=body.agent_id,
            epoch=mark.epoch, version=mark.version, slots=len(body.slots),
            withdrawn=withdrawn))

    def last_published(self, agent_id: str) -> DocVersion | None:
        with self.db.session() as session:
            row = session.exec(select(PublishedPlan).where(
                PublishedPlan.agent_id == agent_id)).first()
        return DocVersion(row.plan_epoch, row.plan_version) if row is not None else None
