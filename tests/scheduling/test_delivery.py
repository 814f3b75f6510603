"""The station's delivery estimate behind "cannot reach <agent> in time" (issue 6 item 2):
the earliest-deadline-first arithmetic, what counts as cached, offline agents, and the
conflicts and messages it produces through the programme service, on both backends."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping

import msgspec
import pytest
from sqlmodel import select

from controller.dataplane.content_service import TransferProgress
from controller.fleet.presence import LiveState, vouched_plan
from controller.library.transfers import ContentSlot, distribution_report
from controller.registry.stations import find_commune
from controller.scheduling import ItemRef, ProgrammeInput, ScheduleConflicts
from controller.scheduling.delivery import DeliveryEstimator, ready_by
from controller.scheduling.describe import conflict_entry
from controller.scheduling.readiness import NO_ESTIMATE, Reach
from controller.storage.tables.library import LibraryItem
from controller.storage.tables.registry import Agent
from controller.storage.tables.schedule import PublishedPlan
from protocols.content import NO_DEADLINE_NS
from protocols.messages import HardTimePolicy, Plan, PlanSlot, Priority
from schedules import NotCachedInTime, Once, Resolution

from .conftest import MORNING, MUSIC, NOT_IN_LIBRARY, STORM, Commune

S = 10**9
HOUR = 3600 * S
RATE = 1000.0  # bytes per second; the conftest's library items are 1000 bytes each
KEYS = {"ag-1": b"\x01" * 32, "ag-2": b"\x02" * 32, "ag-3": b"\x03" * 32}
AGENTS = ["ag-1", "ag-2", "ag-3"]
M, S_, C, X = (bytes.fromhex(h) for h in (MORNING, STORM, MUSIC, NOT_IN_LIBRARY))


# ---------------------------------------------------------------------------- arithmetic


def test_ready_by_counts_every_byte_due_no_later() -> None:
    assert ready_by(0, S, [(S, 1000)], RATE) == 1 * S  # alone: its own bytes at the cap
    # due before it: goes first; due at the same instant: was asked first, goes first
    assert ready_by(0, S, [(S // 2, 500), (S, 1000), (S, 1000)], RATE) == 2500 * 10**6
    # due later: waits, whatever its size (a pinned item has no deadline at all)
    assert ready_by(0, S, [(S, 1000), (3 * S, 10**7), (NO_DEADLINE_NS, 10**9)], RATE) == S
    # earliest deadline first cuts both ways: the same item due later queues behind more
    queue = [(5 * S, 100_000), (10 * S, 1000)]
    assert ready_by(0, 10 * S, queue, RATE) == 101 * S
    assert ready_by(0, 2 * S, [(5 * S, 100_000), (2 * S, 1000)], RATE) == S
    assert ready_by(7, S, [(S, 1000)], None) == 7  # no cap: the station sets no bound


def test_vouched_plan_needs_nothing_missing() -> None:
    def state(telemetry: dict[str, object]) -> LiveState:
        return LiveState("ag-1", 1, online=True, telemetry=telemetry)

    good = {"applied": {"plan": {"epoch": 2, "version": 9}}, "cache": {"missing": 0}}
    assert vouched_plan(state(good)) == (2, 9)
    assert vouched_plan(state({**good, "cache": {"missing": 1}})) is None
    assert vouched_plan(state({"cache": {"missing": 0}})) is None  # no plan applied yet
    assert vouched_plan(state({**good, "applied": {"plan": "garbage"}})) is None
    assert vouched_plan(None) is None


# ---------------------------------------------------------------------------- the estimator


class Fleet:
    """What the fleet's presence tracker and the content service would report."""

    def __init__(self) -> None:
        self.states: dict[str, LiveState] = {}
        self.queue: list[TransferProgress] = []

    def presence(self, agents: list[str]) -> Mapping[str, LiveState]:
        return {a: self.states[a] for a in agents if a in self.states}

    def transfers(self) -> list[TransferProgress]:
        return list(self.queue)

    def online(self, agent: str, **telemetry: object) -> None:
        self.states[agent] = LiveState(agent, 1, online=True, telemetry=dict(telemetry),
                                       last_seen_at=dt.datetime(2026, 1, 1, 2, 59,
                                                                tzinfo=dt.UTC))


def with_keys(commune: Commune) -> None:
    with commune.kit.db.transaction() as session:
        for agent_id, key in KEYS.items():
            agent = session.get(Agent, agent_id)
            assert agent is not None
            agent.curve_public_key = key
            session.add(agent)


def publish_plan(commune: Commune, agent: str, version: int, contents: list[bytes],
                 start_ns: int) -> None:
    """A published plan row, as the planner leaves it."""
    slots = [PlanSlot(slot_id=f"s{n}", programme="p", start_ns=start_ns + n * 600 * S,
                      content=content, duration_ms=60_000, priority=Priority.NORMAL,
                      policy=HardTimePolicy.QUEUE_AFTER,
                      window_end_ns=start_ns + n * 600 * S + 1800 * S)
             for n, content in enumerate(contents)]
    plan = Plan(version=version, issued_ns=0, agent_id=agent, tz="Asia/Ho_Chi_Minh",
                horizon_end_ns=start_ns + 7 * 86_400 * S, slots=slots)
    with commune.kit.db.transaction() as session:
        row = session.get(PublishedPlan, agent) or PublishedPlan(
            agent_id=agent, commune_id=commune.commune_id, plan_epoch=1, plan_version=0,
            horizon_end_ns=0, slot_count=0, document=b"")
        row.plan_version, row.document = version, msgspec.msgpack.encode(plan)
        row.slot_count, row.horizon_end_ns = len(slots), plan.horizon_end_ns
        session.add(row)


@pytest.fixture
def fleet(commune: Commune) -> Fleet:
    with_keys(commune)
    return Fleet()


def estimator(commune: Commune, fleet: Fleet, rate: float | None = RATE) -> DeliveryEstimator:
    return DeliveryEstimator(commune.kit.db, commune.commune_id, fleet.presence,
                             fleet.transfers, rate)


def test_online_agents_wait_for_the_queue_and_each_other(commune: Commune,
                                                         fleet: Fleet) -> None:
    now = commune.now_ns
    for agent in AGENTS:
        fleet.online(agent)
    airs = {M: now + 60 * S, S_: now + 120 * S}
    answers = estimator(commune, fleet).estimate(commune.commune_id, now, AGENTS, airs)
    # the programme's copies: three of MORNING, then three of STORM, which airs later
    assert {answers.reach(a, M) for a in AGENTS} == {Reach(now + 3 * S)}
    assert {answers.reach(a, S_) for a in AGENTS} == {Reach(now + 6 * S)}
    # the queue: what is due before an item goes before it, what is due after does not
    fleet.queue = [TransferProgress(b"\x09" * 32, C, 2000, 0, True, 0, now + 2 * S),
                   TransferProgress(b"\x09" * 32, X, 50_000, 0, False, 1, now + 3600 * S)]
    airs = {M: now + 60 * S, S_: now + 7200 * S}
    answers = estimator(commune, fleet).estimate(commune.commune_id, now, AGENTS, airs)
    assert answers("ag-1", M) == now + 5 * S
    assert answers("ag-1", S_) == now + 58 * S  # behind the 50 kB due in an hour
    # a transfer of ours already under way counts with what is left of it, once
    fleet.queue.append(TransferProgress(KEYS["ag-1"], M, 1000, 600, True, 0, now + 60 * S))
    answers = estimator(commune, fleet).estimate(commune.commune_id, now, AGENTS, airs)
    assert answers("ag-2", M) == now + 4400 * 10**6
    # without a cap the station sets no bound
    answers = estimator(commune, fleet, None).estimate(commune.commune_id, now, AGENTS, airs)
    assert answers("ag-3", M) == now


def test_cached_offline_and_unknown(commune: Commune, fleet: Fleet) -> None:
    now = commune.now_ns
    publish_plan(commune, "ag-1", 5, [M, S_], now + 3600 * S)
    publish_plan(commune, "ag-2", 5, [M], now + 3600 * S)
    vouched = {"applied": {"plan": {"epoch": 1, "version": 5}}, "cache": {"missing": 0}}
    fleet.online("ag-1", **vouched)
    # ag-2 vouches for its plan too, but is offline: what it holds is still there
    fleet.states["ag-2"] = LiveState("ag-2", 1, online=False, telemetry=vouched,
                                     last_seen_at=dt.datetime(2026, 1, 1, 1, tzinfo=dt.UTC))
    answers = estimator(commune, fleet).estimate(commune.commune_id, now, AGENTS,
                                                 {M: now + HOUR, S_: now + HOUR, X: now})
    assert answers.reach("ag-1", M) == answers.reach("ag-1", S_) == Reach(now)
    assert answers.reach("ag-2", M) == Reach(now)
    seen_ns = int(dt.datetime(2026, 1, 1, 1, tzinfo=dt.UTC).timestamp()) * S
    assert answers.reach("ag-2", S_) == Reach(None, offline=True, last_seen_ns=seen_ns)
    assert answers.reach("ag-3", M) == Reach(None, offline=True)  # never heard from
    assert answers.reach("ag-1", X) == NO_ESTIMATE  # the library does not hold it
    # controls: a plan the agent has not applied yet, or an item still missing, vouch
    # for nothing
    fleet.online("ag-1", **{**vouched, "applied": {"plan": {"epoch": 1, "version": 4}}})
    answers = estimator(commune, fleet).estimate(commune.commune_id, now, ["ag-1"], {M: now + HOUR})
    assert answers("ag-1", M) == now + S
    fleet.online("ag-1", **{**vouched, "cache": {"missing": 1}})
    answers = estimator(commune, fleet).estimate(commune.commune_id, now, ["ag-1"], {M: now + HOUR})
    assert answers("ag-1", M) == now + S
    # a slot whose window has ended no longer keeps its item in the agent's cache
    publish_plan(commune, "ag-1", 6, [M], now - 3 * 3600 * S)
    fleet.online("ag-1", **{**vouched, "applied": {"plan": {"epoch": 1, "version": 6}}})
    answers = estimator(commune, fleet).estimate(commune.commune_id, now, ["ag-1"], {M: now + HOUR})
    assert answers("ag-1", M) == now + S


def test_other_communes_keep_the_librarys_answer(commune: Commune, fleet: Fleet) -> None:
    """The station's fleet link and content service know only its own commune's agents."""
    with commune.kit.db.session() as session:
        other = find_commune(session, "xa-b").id
    assert other is not None
    with commune.kit.db.transaction() as session:
        session.add(LibraryItem(commune_id=other, sha256=STORM, title="Tin bão", duration_ms=1,
                                size_bytes=10**9, bitrate_bps=1, integrated_lufs=-16.0,
                                speech_lufs=-16.0, true_peak_dbtp=-1.0))
    now = commune.now_ns
    mine = estimator(commune, fleet).estimate(commune.commune_id, now, ["ag-1"], {S_: now})
    assert mine.reach("ag-1", S_) == Reach(None, offline=True)  # never heard from
    theirs = estimator(commune, fleet).estimate(other, now, ["b-1"], {S_: now})
    assert theirs.reach("b-1", S_) == Reach(now)


def test_conflicts_name_the_late_and_the_offline_agents(commune: Commune,
                                                        fleet: Fleet) -> None:
    programmes = commune.services.programmes
    programmes.plug_readiness(estimator(commune, fleet, rate=1.0))  # 1000 s per copy
    fleet.online("ag-1")
    fleet.states["ag-2"] = LiveState("ag-2", 1, online=False, last_seen_at=dt.datetime(
        2026, 1, 1, 2, 30, tzinfo=dt.UTC))
    soon = ProgrammeInput(title="Tin bão", items=(ItemRef(content=STORM),),
                          recurrence=Once(on=dt.date(2026, 1, 1), at=dt.time(10, 10)),
                          villages=frozenset({"thon-a1"}))
    with pytest.raises(ScheduleConflicts) as refused:
        programmes.create(commune.who("op-a"), "xa-a", soon)
    late = {c.agent_id: c for c in refused.value.report.conflicts
            if isinstance(c, NotCachedInTime)}
    assert set(late) == {"ag-1", "ag-2"}  # thon-a1's agents; ag-3 is not targeted
    assert late["ag-1"].ready_ns == commune.now_ns + 1000 * S and not late["ag-1"].offline
    assert (late["ag-2"].ready_ns, late["ag-2"].offline) == (None, True)
    english = conflict_entry(late["ag-1"], "Asia/Ho_Chi_Minh", "en")
    assert english["message"] == (
        f"Cannot reach ag-1 in time: item {STORM[:12]} would only be there at "
        "2026-01-01 10:16:40, after 2026-01-01 10:10:00; 1 airings affected.")
    offline = conflict_entry(late["ag-2"], "Asia/Ho_Chi_Minh", "en")
    assert offline["message"] == (
        f"Cannot reach ag-2 in time: it is offline (last seen 2026-01-01 09:30:00) and does "
        f"not have item {STORM[:12]}, which airs at 2026-01-01 10:10:00; 1 airings "
        "affected.")
    assert (offline["offline"], offline["last_seen"]) == (
        True, dt.datetime(2026, 1, 1, 2, 30, tzinfo=dt.UTC))
    vietnamese = conflict_entry(late["ag-2"], "Asia/Ho_Chi_Minh", "vi")["message"]
    assert vietnamese.startswith("Không thể đưa kịp đến ag-2: thiết bị đang mất kết nối "
                                 "(liên lạc lần cuối 2026-01-01 09:30:00)")
    # far enough ahead for the transfers, and only the online agent's cluster: accepted
    later = dataclasses.replace(soon, recurrence=Once(on=dt.date(2026, 1, 1), at=dt.time(11)),
                                villages=frozenset(), clusters=frozenset({"c-thon-a1"}))
    assert programmes.create(commune.who("op-a"), "xa-a", later).report.ok
    # the operator may still accept the refused one knowingly
    appended = programmes.create(commune.who("op-a"), "xa-a", soon,
                                 resolution=Resolution.APPEND)
    assert {c.agent_id for c in appended.report.conflicts} == {"ag-1", "ag-2"}


# ---------------------------------------------------------------------------- the distribution view


class NoTransfers:
    """A running content service that has sent nothing since the controller started."""

    endpoint = "tcp://127.0.0.1:1"

    def transfers(self) -> list[TransferProgress]:
        return []

    def stats(self) -> dict[str, int]:
        return {}


def test_the_distribution_view_takes_an_agents_word_for_what_it_holds(
        commune: Commune, fleet: Fleet) -> None:
    """After a controller restart the service has noted nothing: an agent whose telemetry
    vouches for the plan naming the item is shown cached, not waiting (else ``library
    transfers --watch`` would wait for it until its timeout)."""
    now = commune.now_ns
    publish_plan(commune, "ag-1", 5, [M], now + HOUR)
    publish_plan(commune, "ag-2", 5, [M], now + HOUR)
    publish_plan(commune, "ag-3", 5, [M], now - 3 * HOUR)  # only an ended slot names it
    vouched = {"applied": {"plan": {"epoch": 1, "version": 5}}, "cache": {"missing": 0}}
    fleet.online("ag-1", **vouched)
    fleet.online("ag-2", **{**vouched, "cache": {"missing": 1}})  # the control
    fleet.online("ag-3", **vouched)
    slot = ContentSlot()
    with commune.kit.db.session() as session:
        unit = find_commune(session, "xa-a")
        item = session.exec(select(LibraryItem).where(LibraryItem.sha256 == MORNING)).one()
        slot.plug(NoTransfers(), "xa-a", presence=fleet.presence)
        report = distribution_report(session, slot, commune.commune_id, unit.key, item, now)
        assert [(a.agent_id, a.targeted, a.state, a.percent, a.reason)
                for a in report.agents] == [
            ("ag-1", True, "cached", 100, "reported by the agent"),
            ("ag-2", True, "waiting", 0, None)]
        assert report.pending == 1
        # without the fleet link nothing vouches: both wait
        slot.plug(NoTransfers(), "xa-a")
        report = distribution_report(session, slot, commune.commune_id, unit.key, item, now)
        assert [a.state for a in report.agents] == ["waiting", "waiting"]
