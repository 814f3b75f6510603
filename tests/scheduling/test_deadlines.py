"""Prefetch deadlines from the station's own plans (issue 6 item 4: "APScheduler drives
the controller's timed work: re-planning, publishing, prefetch deadlines"): what
``AirTimes`` answers, that the content service orders transfers and raises its "late"
alert by a real plan's air times rather than by what an agent claims, and that the
deadlines follow plan changes and emergencies."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from controller.dataplane.content_service import AlertKind, ServiceLimits, TransferScheduler
from controller.fleet.publisher import FleetPublisher
from controller.scheduling import ItemRef, Planner, PlannerComponent, PlannerSettings
from controller.scheduling import ProgrammeInput as Input
from controller.scheduling.deadlines import AirTimes
from controller.signing.counters import Counters
from controller.storage.tables.library import LibraryItem
from protocols.clock import ManualClock
from protocols.content import NO_DEADLINE_NS, Fetch
from protocols.messages import HardTimePolicy, Plan, PlanSlot, Priority, RoutineItem
from schedules import Daily, Once, Resolution
from tests.content.support import Library

from .conftest import MORNING, STORM, Commune
from .test_delivery import KEYS, with_keys
from .test_planner import planner_station

S = 10**9
HOUR = 3600 * S
K1, K2, K3 = KEYS["ag-1"], KEYS["ag-2"], KEYS["ag-3"]


def slot(content: bytes, start_ns: int, window_s: int = 1800) -> PlanSlot:
    return PlanSlot(slot_id=f"s-{start_ns}", programme="p", start_ns=start_ns,
                    content=content, duration_ms=60_000, priority=Priority.NORMAL,
                    policy=HardTimePolicy.QUEUE_AFTER, window_end_ns=start_ns + window_s * S)


def plan(agent: str, slots: list[PlanSlot], routine: list[bytes] = (),  # type: ignore[assignment]
         horizon_ns: int = 0) -> Plan:
    return Plan(version=1, issued_ns=0, agent_id=agent, tz="Asia/Ho_Chi_Minh",
                horizon_end_ns=horizon_ns, slots=slots,
                routine=[RoutineItem(programme="r", content=c, weekdays=127, local_start_s=0,
                                     duration_ms=1000, priority=Priority.NORMAL,
                                     policy=HardTimePolicy.QUEUE_AFTER) for c in routine])


def test_air_times_answer_the_earliest_airing_still_needed() -> None:
    clock = ManualClock()
    now = clock.wall_ns()
    a, b, c = (hashlib.sha256(bytes([n])).digest() for n in range(3))
    times = AirTimes(clock)
    times.update([plan("ag-1", [slot(a, now + 25 * HOUR), slot(a, now + HOUR)], [b],
                       now + 168 * HOUR),
                  plan("ag-2", [slot(a, now + 2 * HOUR)])],
                 {"ag-1": K1})  # ag-2 has no key: it cannot fetch
    assert times.deadline(a, K1) == now + HOUR
    assert times.deadline(b, K1) == now + 168 * HOUR  # the routine: by the plan's horizon
    assert times.deadline(c, K1) is None  # not in its plan: the agent's own deadline
    assert times.deadline(a, K2) is None
    clock.advance(HOUR + 60 * S)  # the 1-hour airing has begun: still needed by its start
    assert times.deadline(a, K1) == now + HOUR
    clock.advance(HOUR)  # ... its window has ended: the next one
    assert times.deadline(a, K1) == now + 25 * HOUR
    times.set_emergency(a)  # due now, whatever later airing the plan has: the agent's
    assert times.deadline(a, K1) is None
    times.set_emergency(None)
    assert times.deadline(a, K1) == now + 25 * HOUR
    times.update([], {"ag-1": K1})  # every plan replaced
    assert times.deadline(a, K1) is None


# ---------------------------------------------------------------------------- the service


@dataclass
class RecordingLink:
    """Publishes nowhere; notes what the deadlines were when each plan went out."""

    air_times: AirTimes | None = None
    probe: tuple[bytes, bytes] | None = None
    sent: list[tuple[str, int | None]] = field(default_factory=list)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        seen = None
        if self.air_times is not None and self.probe is not None:
            seen = self.air_times.deadline(*self.probe)
        self.sent.append((topic, seen))


def planner_with(commune: Commune, link: RecordingLink) -> tuple[Planner, AirTimes]:
    kit = commune.kit
    air_times = AirTimes(kit.clock)
    link.air_times = air_times
    publisher = FleetPublisher("xa-a", kit.services.keyring, Counters(kit.db), link, kit.clock)
    return Planner(kit.db, kit.bus, kit.time, "xa-a", publisher, air_times=air_times), air_times


def programme(commune: Commune, key: str, content: str, on: dt.date, at: dt.time,
              villages: frozenset[str] = frozenset()) -> None:
    programmes = commune.services.programmes
    spec = Input(title=key, items=(ItemRef(content=content),), recurrence=Once(on=on, at=at),
                 villages=villages)
    programmes.create(commune.who("op-a"), "xa-a", spec, key=key)
    programmes.approve(commune.who("appr-a"), "xa-a", key)


@pytest.fixture
def planned(sqlite_commune: Commune, tmp_path: Path) -> tuple[Commune, AirTimes, dict[str, Any]]:
    """Real plans: ag-1's item airs in three days, ag-2's in ten minutes, ag-3's in 20 s
    (the kit's clock: 2026-01-01 10:00 in Hanoi); the files are in a library on disk."""
    commune = sqlite_commune
    with_keys(commune)
    files = Library(tmp_path)
    items = {"x": files.add(64 * 1024), "y": files.add(64 * 1024), "z": files.add(400_000)}
    with commune.kit.db.transaction() as session:
        for name, sha in items.items():
            session.add(LibraryItem(commune_id=commune.commune_id, sha256=sha.hex(),
                                    title=f"Tin {name}", duration_ms=60_000,
                                    size_bytes=(files.root / sha.hex()).stat().st_size,
                                    bitrate_bps=32_000, integrated_lufs=-16.0,
                                    speech_lufs=-16.0, true_peak_dbtp=-1.0))
    today = dt.date(2026, 1, 1)
    programme(commune, "x", items["x"].hex(), dt.date(2026, 1, 4), dt.time(10),
              frozenset({"thon-a1"}))
    programme(commune, "y", items["y"].hex(), today, dt.time(10, 10), frozenset({"thon-a1"}))
    programme(commune, "z", items["z"].hex(), today, dt.time(10, 0, 20), frozenset({"thon-a2"}))
    planner, air_times = planner_with(commune, RecordingLink())
    assert set(planner.replan().published) == {"ag-1", "ag-2", "ag-3"}
    return commune, air_times, {"files": files, **items}


def test_the_plan_orders_the_transfers_and_times_the_late_alert(
        planned: tuple[Commune, AirTimes, dict[str, Any]]) -> None:
    commune, air_times, found = planned
    clock, now = commune.kit.clock, commune.now_ns
    x, y, z = found["x"], found["y"], found["z"]
    three_days, ten_minutes = now + 72 * HOUR, now + 600 * S

    def run(hook: Any) -> tuple[TransferScheduler, list[Any]]:
        sched = TransferScheduler(ServiceLimits(egress_bytes_per_s=10_000.0,
                                                max_concurrent=1), clock,
                                  found["files"].locate, hook)
        # What the agents claim is the other way round: ag-1 says x airs in a minute,
        # ag-2 and ag-3 give no air time at all (an old agent, a clock not trusted yet).
        sched.fetch(b"p1", K1, Fetch(x, 0, 4, now + 60 * S))
        sched.fetch(b"p2", K1, Fetch(y, 0, 4, NO_DEADLINE_NS))
        sched.fetch(b"p3", K3, Fetch(z, 0, 4, NO_DEADLINE_NS))
        _, alerts = sched.housekeeping()
        return sched, alerts

    sched, alerts = run(air_times.deadline)
    order = [(t.content, t.need_by_ns, t.active) for t in sched.transfers()]
    # z airs in 20 s, y in ten minutes, x in three days: served in that order
    assert order == [(z, now + 20 * S, True), (y, ten_minutes, False),
                     (x, three_days, False)]
    # z cannot arrive in 20 s at 10 kB/s: the operator hears it now, not at air time
    assert [(a.kind, a.agent, a.content) for a in alerts] == [(AlertKind.LATE, K3, z)]
    # control: the agents' own claims would have put x first, and nothing would be late
    sched, alerts = run(None)
    assert next((t.content, t.active) for t in sched.transfers()) == (x, True)
    assert alerts == []


def test_the_planner_moves_deadlines_before_it_publishes(sqlite_commune: Commune) -> None:
    commune = sqlite_commune
    with_keys(commune)
    link = RecordingLink(probe=(bytes.fromhex(MORNING), K1))
    planner, air_times = planner_with(commune, link)
    programmes = commune.services.programmes
    spec = Input(title="Tin sáng", items=(ItemRef(content=MORNING),),
                 recurrence=Daily(at=dt.time(5)))
    programmes.create(commune.who("op-a"), "xa-a", spec, key="sang")
    programmes.approve(commune.who("appr-a"), "xa-a", "sang")
    planner.replan()
    five = int(dt.datetime(2026, 1, 2, 5, tzinfo=dt.timezone(dt.timedelta(hours=7)))
               .timestamp()) * S
    assert air_times.deadline(bytes.fromhex(MORNING), K1) == five
    assert {seen for _topic, seen in link.sent} == {five}  # already when each went out
    programmes.update(commune.who("op-a"), "xa-a", "sang",
                      {"recurrence": Daily(at=dt.time(4))}, resolution=Resolution.APPEND)
    programmes.approve(commune.who("appr-a"), "xa-a", "sang")
    link.sent.clear()
    planner.replan()
    assert {seen for _topic, seen in link.sent} == {five - HOUR}
    programmes.withdraw(commune.who("op-a"), "xa-a", "sang")
    planner.replan()
    assert air_times.deadline(bytes.fromhex(MORNING), K1) is None


def test_the_component_follows_emergencies(sqlite_commune: Commune) -> None:
    commune = sqlite_commune
    with_keys(commune)
    morning = bytes.fromhex(MORNING)
    programmes = commune.services.programmes
    programmes.create(commune.who("op-a"), "xa-a", Input(
        title="Tin sáng", items=(ItemRef(content=MORNING),), recurrence=Daily(
            at=dt.time(5))), key="sang")
    programmes.approve(commune.who("appr-a"), "xa-a", "sang")
    component = PlannerComponent(planner_station(commune, _Link()),
                                 PlannerSettings(debounce_s=0.1, debounce_max_s=1))
    component.start()
    try:
        wait_for(lambda: component.air_times.deadline(morning, K1) is not None)
        planned = component.air_times.deadline(morning, K1)
        commune.services.emergencies.start(commune.who("em-a"), "xa-a", content=MORNING)
        assert component.air_times.deadline(morning, K1) is None  # at once, not next round
        assert component.air_times.deadline(bytes.fromhex(STORM), K1) is None
    finally:
        component.stop()
    again = PlannerComponent(planner_station(commune, _Link()), PlannerSettings())
    again.start()  # a restart mid-emergency knows it before any round
    try:
        wait_for(lambda: again.rounds >= 1)
        assert again.air_times.deadline(morning, K1) is None
        commune.services.emergencies.stop(commune.who("em-a"), "xa-a")
        assert again.air_times.deadline(morning, K1) == planned
    finally:
        again.stop()


class _Link:
    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        pass


def wait_for(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
