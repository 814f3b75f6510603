"""The planner on both backends, publishing through the real ``FleetPublisher`` (real
keys, real durable counters) into a recording link, and every document checked the way
an agent checks it (``ControlInbox``)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
from sqlmodel import col, select

from controller.events import PlanPublished
from controller.fleet.publisher import FleetPublisher
from controller.scheduling import (
    ItemRef,
    Planner,
    PlannerComponent,
    PlannerSettings,
    ProgrammeInput,
)
from controller.scheduling.planner import MAX_PLAN_BYTES, fit_to_wire
from controller.storage.tables.plans import PlannedSlot
from controller.storage.tables.registry import AgentStatus
from controller.storage.tables.schedule import PublishedPlan
from protocols.acceptance import MemoryWatermarks
from protocols.clock import ManualClock
from protocols.codec import Rejected
from protocols.inbox import ControlInbox, DocumentAccepted
from protocols.messages import DocVersion, HardTimePolicy, Plan, PlanSlot, Priority
from protocols.topics import parse_topic
from protocols.trust import TrustStore
from schedules import Daily, Once, Resolution

from .conftest import MORNING, STORM, TOMORROW, Commune

HOUR = 3600


@dataclass
class RecordingLink:
    sent: list[tuple[str, bytes, bool]] = field(default_factory=list)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self.sent.append((topic, payload, retain))


@dataclass
class Agents:
    """What each agent would accept, through its own ``ControlInbox``."""

    trust: TrustStore
    inboxes: dict[str, ControlInbox] = field(default_factory=dict)
    plans: dict[str, Plan] = field(default_factory=dict)
    marks: dict[str, DocVersion] = field(default_factory=dict)

    def receive(self, topic: str, payload: bytes) -> DocumentAccepted | Rejected:
        address = parse_topic(topic)
        assert address is not None and address.agent_id is not None
        inbox = self.inboxes.setdefault(address.agent_id, ControlInbox(
            "xa-a", address.agent_id, self.trust, MemoryWatermarks(), ManualClock()))
        result = inbox.receive(topic, payload)
        if isinstance(result, DocumentAccepted):
            inbox.commit(result)
            self.plans[address.agent_id] = result.document
            self.marks[address.agent_id] = result.mark
        return result


@dataclass
class Planning:
    commune: Commune
    link: RecordingLink
    planner: Planner
    agents: Agents
    seen: int = 0

    def round(self) -> set[str]:
        """Re-plan; the agents that received a (verified) plan."""
        result = self.planner.replan()
        fresh = self.link.sent[self.seen:]
        self.seen = len(self.link.sent)
        received = set()
        for topic, payload, retain in fresh:
            assert retain
            accepted = self.agents.receive(topic, payload)
            assert isinstance(accepted, DocumentAccepted), accepted
            received.add(accepted.document.agent_id)
        assert received == set(result.published)
        return received

    def slots(self, agent: str, programme: str | None = None) -> list[Any]:
        return [s for s in self.agents.plans[agent].slots
                if programme is None or s.programme == programme]


def make_planner(commune: Commune, link: RecordingLink) -> Planner:
    kit = commune.kit
    publisher = FleetPublisher("xa-a", kit.services.keyring, _counters(commune), link,
                               kit.clock)
    return Planner(kit.db, kit.bus, kit.time, "xa-a", publisher)


def _counters(commune: Commune) -> Any:
    from controller.signing.counters import Counters

    return Counters(commune.kit.db)


@pytest.fixture
def planning(commune: Commune) -> Planning:
    bundle, version = commune.kit.services.keyring.trust_bundle("xa-a")
    link = RecordingLink()
    return Planning(commune, link, make_planner(commune, link),
                    Agents(TrustStore.from_bundle(bundle, version)))


def programme(commune: Commune, key: str, spec: ProgrammeInput, approve: bool = True,
              resolution: Resolution | None = None) -> None:
    programmes = commune.services.programmes
    programmes.create(commune.who("op-a"), "xa-a", spec, key=key, resolution=resolution)
    if approve:
        programmes.approve(commune.who("appr-a"), "xa-a", key)


def morning(**fields: Any) -> ProgrammeInput:
    return ProgrammeInput(title="Tin sáng", items=(ItemRef(content=MORNING),),
                          recurrence=Daily(at=dt.time(5)), **fields)


def planned(commune: Commune, **where: Any) -> list[PlannedSlot]:
    with commune.kit.db.session() as session:
        statement = select(PlannedSlot)
        for name, value in where.items():
            statement = statement.where(getattr(PlannedSlot, name) == value)
        return list(session.exec(statement.order_by(col(PlannedSlot.start_ns))))


def test_only_approved_programmes_reach_agents(planning: Planning) -> None:
    commune = planning.commune
    programme(commune, "nhap", ProgrammeInput(title="Nháp", items=(ItemRef(content=STORM),),
                                              recurrence=Daily(at=dt.time(7))),
              approve=False)
    assert planning.round() == {"ag-1", "ag-2", "ag-3"}  # first plans: nothing to air
    assert all(plan.slots == [] and plan.routine == [] for plan in planning.agents.plans.values())
    programme(commune, "sang", morning())
    assert planning.round() == {"ag-1", "ag-2", "ag-3"}
    for agent, plan in planning.agents.plans.items():
        assert {s.programme for s in plan.slots} == {"sang"}, agent
        assert len(plan.slots) == 7 and all(s.content.hex() == MORNING for s in plan.slots)
        assert [r.programme for r in plan.routine] == ["sang"]
        assert bytes.fromhex(STORM) not in {s.content for s in plan.slots} | {
            r.content for r in plan.routine} | set(plan.pins)
        assert plan.tz == "Asia/Ho_Chi_Minh"
    assert {row.programme_id for row in planned(commune)} == {"sang"}


def test_plans_are_published_only_when_their_content_changes(planning: Planning) -> None:
    commune = planning.commune
    programme(commune, "sang", morning())
    assert planning.round() == {"ag-1", "ag-2", "ag-3"}
    first = dict(planning.agents.marks)
    assert planning.round() == set()  # nothing changed
    commune.advance(2 * HOUR)  # the horizon moves, but no new airing enters it
    assert planning.round() == set()
    commune.advance(18 * HOUR)  # 06:00 the next day: 05:00 of day 8 enters the horizon
    assert planning.round() == {"ag-1", "ag-2", "ag-3"}
    programme(commune, "nhac-thon-2", ProgrammeInput(
        title="Nhạc", items=(ItemRef(content=STORM),), recurrence=Once(
            on=TOMORROW + dt.timedelta(days=1), at=dt.time(9)),
        villages=frozenset({"thon-a2"})))
    assert planning.round() == {"ag-3"}  # only the agent whose plan changed
    assert planning.agents.marks["ag-3"].version == first["ag-3"].version + 2
    assert planning.agents.marks["ag-1"].version == first["ag-1"].version + 1
    events = [e for e in commune.kit.events if isinstance(e, PlanPublished)]
    assert len(events) == 7 and events[-1].agent_id == "ag-3"


def test_planned_slots_are_recorded_and_withdrawn_before_their_start(
        planning: Planning) -> None:
    commune = planning.commune
    programme(commune, "sang", morning())
    planning.round()
    rows = planned(commune)
    assert len(rows) == 21 and all(r.withdrawn_at is None for r in rows)
    mark = planning.agents.marks["ag-1"]
    assert {(r.plan_epoch, r.plan_version) for r in rows if r.agent_id == "ag-1"} == {
        (mark.epoch, mark.version)}
    first = planned(commune, agent_id="ag-1")[0]
    assert (first.content, first.duration_ms, first.priority, first.fragment) == (
        MORNING, 300_000, int(Priority.NORMAL), False)
    commune.advance(19 * HOUR + 2 * 60)  # 05:02 tomorrow: the first airing is on
    commune.services.programmes.withdraw(commune.who("op-a"), "xa-a", "sang")
    assert planning.round() == {"ag-1", "ag-2", "ag-3"}
    assert all(plan.slots == [] for plan in planning.agents.plans.values())
    for agent in ("ag-1", "ag-2", "ag-3"):
        rows = planned(commune, agent_id=agent)
        kept = [r for r in rows if r.withdrawn_at is None]
        assert len(rows) == 7 and [r.start_ns for r in kept] == [rows[0].start_ns]
        assert rows[0].start_ns < commune.now_ns  # it had started: not taken back
    view = commune.services.plans.agent_plan(commune.who("viewer-a"), "ag-1", True)
    assert view.slots == [] and len(view.withdrawn) == 6


def test_village_peers_fragments_routine_and_pins(planning: Planning) -> None:
    commune = planning.commune
    programme(commune, "sang", morning())
    programme(commune, "khan", ProgrammeInput(
        title="Tin khẩn", items=(ItemRef(content=STORM),), recurrence=Once(
            on=TOMORROW, at=dt.time(5, 2)), villages=frozenset({"thon-a1"}),
        priority=Priority.PRIORITY), resolution=Resolution.OVERRIDE)
    planning.round()
    peers = {agent: {s.village_peers for s in planning.slots(agent, "sang")}
             for agent in ("ag-1", "ag-2", "ag-3")}
    assert peers == {"ag-1": {1}, "ag-2": {1}, "ag-3": {0}}  # thon-a1 has two clusters
    broken = [s for s in planning.slots("ag-1") if s.fragment]
    assert [(s.programme, s.duration_ms) for s in broken] == [("sang", 120_000)]
    assert not any(s.fragment for s in planning.slots("ag-3"))
    order = [s.programme for s in planning.slots("ag-1")][:3]
    assert order == ["sang", "khan", "sang"]  # interrupted, then aired again in full
    routine = planning.agents.plans["ag-3"].routine
    assert [(r.programme, r.local_start_s, r.weekdays) for r in routine] == [
        ("sang", 5 * HOUR, 127)]
    commune.services.pins.pin(commune.who("op-a"), "xa-a", STORM)
    assert planning.round() == {"ag-1", "ag-2", "ag-3"}
    assert all(plan.pins == [bytes.fromhex(STORM)] for plan in planning.agents.plans.values())
    view = commune.services.plans.agent_plan(commune.who("viewer-a"), "ag-2")
    mark = planning.agents.marks["ag-2"]
    assert view.version == f"{mark.epoch}.{mark.version}"
    assert view.pins == [STORM] and view.routine[0].programme == "sang"
    assert {s.village_peers for s in view.slots if s.programme == "sang"} == {1}


def test_a_plan_altered_in_transit_is_rejected(planning: Planning) -> None:
    programme(planning.commune, "sang", morning())
    planning.planner.replan()
    topic, payload, _retain = planning.link.sent[0]
    tampered = payload[:-1] + bytes([payload[-1] ^ 0x01])
    refused = planning.agents.receive(topic, tampered)
    assert isinstance(refused, Rejected) and refused.reason.value == "bad_signature"
    accepted = planning.agents.receive(topic, payload)  # the positive control
    assert isinstance(accepted, DocumentAccepted)


def test_a_restarted_planner_continues_without_republishing(planning: Planning) -> None:
    commune = planning.commune
    programme(commune, "sang", morning())
    planning.round()
    before = dict(planning.agents.marks)
    link = RecordingLink()  # a new process: new planner, publisher and link
    restarted = Planning(commune, link, make_planner(commune, link), planning.agents)
    assert restarted.round() == set()
    programme(commune, "khuya", ProgrammeInput(title="Tin khuya", items=(
        ItemRef(content=STORM),), recurrence=Daily(at=dt.time(21))))
    assert restarted.round() == {"ag-1", "ag-2", "ag-3"}
    assert {a: m.version - before[a].version for a, m in planning.agents.marks.items()} == {
        "ag-1": 1, "ag-2": 1, "ag-3": 1}


def test_an_agent_that_leaves_is_forgotten(planning: Planning) -> None:
    commune = planning.commune
    programme(commune, "sang", morning())
    planning.round()
    commune.set_agent_status("ag-3", AgentStatus.REVOKED)
    result = planning.planner.replan()
    assert result.forgotten == ["ag-3"] and result.withdrawn == 7
    assert all(r.withdrawn_at is not None for r in planned(commune, agent_id="ag-3"))
    with commune.kit.db.session() as session:
        assert session.get(PublishedPlan, "ag-3") is None
    commune.set_agent_status("ag-3", AgentStatus.ACTIVE)  # back: planned afresh
    assert planning.round() == {"ag-3"}
    assert all(r.withdrawn_at is None for r in planned(commune, agent_id="ag-3"))


# ---------------------------------------------------------------------------- the component


def planner_station(commune: Commune, link: RecordingLink) -> Any:
    """What the component uses of the daemon's ``Station``."""
    kit = commune.kit
    return SimpleNamespace(settings=kit.settings, db=kit.db, bus=kit.bus, time=kit.time,
                           services=kit.services, keyring=kit.services.keyring,
                           counters=_counters(commune),
                           extras={"fleet": SimpleNamespace(link=link)})


@pytest.fixture
def component(commune: Commune) -> Iterator[tuple[PlannerComponent, RecordingLink]]:
    link = RecordingLink()
    # A second apart: the burst below (six service calls) is one round even when a loaded
    # machine leaves 0.3 s between two of them (it did, once: two rounds).
    planner = PlannerComponent(planner_station(commune, link),
                               PlannerSettings(debounce_s=1.0, debounce_max_s=10))
    planner.start()
    yield planner, link
    planner.stop()


def wait_for(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_component_replans_on_changes_debounced(
        component: tuple[PlannerComponent, RecordingLink], commune: Commune) -> None:
    planner, link = component
    wait_for(lambda: planner.rounds >= 1)  # the first round at start
    assert len(link.sent) == 3
    rounds = planner.rounds
    programmes = commune.services.programmes
    for n, hour in enumerate((5, 6, 7)):  # a burst of changes: one round
        programmes.create(commune.who("op-a"), "xa-a", ProgrammeInput(
            title=f"T{n}", items=(ItemRef(content=MORNING),), recurrence=Daily(
                at=dt.time(hour))), key=f"p{n}")
        programmes.approve(commune.who("appr-a"), "xa-a", f"p{n}")
    wait_for(lambda: len(link.sent) == 6)
    time.sleep(1.5)  # longer than the debounce: a second round would have come
    assert planner.rounds == rounds + 1 and len(link.sent) == 6
    assert planner.last_round is not None and len(planner.last_round.published) == 3
    # the emergency announcer is plugged in while the component runs
    started = commune.services.emergencies.start(commune.who("em-a"), "xa-a", content=STORM)
    assert started.document_version is not None
    assert link.sent[-1][0] == "loaxa/v1/xa-a/doc/emergency"
    wait_for(lambda: planner.rounds == rounds + 2)  # the emergency was audited: a round
    sent = {topic: payload for topic, payload, _retain in link.sent}
    planner.stop()
    # a new process: what it published last goes back on the broker as it was, and
    # nothing gets a new version
    again = RecordingLink()
    restarted = PlannerComponent(planner_station(commune, again), PlannerSettings())
    restarted.start()
    try:
        wait_for(lambda: restarted.rounds >= 1)
        assert {topic: payload for topic, payload, _retain in again.sent} == sent
        assert len(again.sent) == 4 and restarted.last_round is not None
        assert restarted.last_round.published == {}
    finally:
        restarted.stop()


@dataclass
class SlowLink(RecordingLink):
    delay_s: float = 0.0

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        time.sleep(self.delay_s)
        super().publish(topic, payload, retain=retain)


def test_a_change_made_during_a_slow_round_gets_its_own_round(commune: Commune) -> None:
    """Publishing a commune's plans can take longer than the debounce on a busy station;
    an approval made meanwhile must not be dropped (APScheduler skips a job whose previous
    run is still going) and wait for the hourly round."""
    link = SlowLink()
    planner = PlannerComponent(planner_station(commune, link),
                               PlannerSettings(debounce_s=0.1, debounce_max_s=1))
    planner.start()
    try:
        wait_for(lambda: planner.rounds >= 1)
        rounds, sent = planner.rounds, len(link.sent)
        link.delay_s = 0.5  # three agents: a round that publishes takes 1.5 s
        programmes = commune.services.programmes
        for n, hour in enumerate((5, 6)):
            programmes.create(commune.who("op-a"), "xa-a", ProgrammeInput(
                title=f"T{n}", items=(ItemRef(content=MORNING),), recurrence=Daily(
                    at=dt.time(hour))), key=f"p{n}")
            programmes.approve(commune.who("appr-a"), "xa-a", f"p{n}")
            if n == 0:  # the next approval comes while this one's round is publishing
                wait_for(lambda: len(link.sent) > sent)
        wait_for(lambda: planner.rounds >= rounds + 2)
        assert planner.last_round is not None and len(planner.last_round.published) == 3
    finally:
        planner.stop()

def test_a_plan_too_big_for_the_wire_is_cut_at_a_slot() -> None:
    slots = [PlanSlot(slot_id=f"bao-{n:05d}-20260101T000000Z", programme="bao",
                      start_ns=n * 60 * 10**9, content=bytes.fromhex(STORM), duration_ms=30_000,
                      priority=Priority.PRIORITY, policy=HardTimePolicy.QUEUE_AFTER,
                      window_end_ns=n * 60 * 10**9 + 10**11) for n in range(20_000)]
    plan = Plan(version=0, issued_ns=0, agent_id="ag-1", tz="Asia/Ho_Chi_Minh",
                horizon_end_ns=20_000 * 60 * 10**9, slots=slots)
    assert len(msgspec.msgpack.encode(plan)) > MAX_PLAN_BYTES
    cut = fit_to_wire(plan)
    assert len(msgspec.msgpack.encode(cut)) <= MAX_PLAN_BYTES
    assert 0 < len(cut.slots) < len(slots) and cut.slots == slots[:len(cut.slots)]
    assert cut.horizon_end_ns == slots[len(cut.slots)].start_ns
    small = msgspec.structs.replace(plan, slots=slots[:10])
    assert fit_to_wire(small) is small
