"""Property-based tests of the resolver over random, clash-heavy communes.

Every generated timeline must satisfy ``support.check_invariants`` (no overlap per
agent, nothing before it is due or past its window, session caps, pre-emption only by
strictly higher precedence, skip_if_busy only when busy, nobody jumping a higher item
that waits), account for every airing (aired, or a notice saying why not), and not
depend on the order of the input.
"""

from __future__ import annotations

import random
from datetime import date, time, timedelta

import msgspec
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from protocols.messages import PlanSlot
from schedules import OutsideSession, Schedule, Topology, plan_slots, resolve, resolve_targets
from schedules.runs import expand_runs

from .strategies import communes
from .support import check_invariants, ns

PROPERTY = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
HOUR = 3600 * 10**9


def window(schedule: Schedule, first: date) -> tuple[int, int]:
    return ns(first, time(0), schedule.tz), ns(first + timedelta(days=3), time(0), schedule.tz)


@PROPERTY
@given(communes())
def test_timelines_keep_every_promise(commune: tuple[Schedule, Topology, date]) -> None:
    schedule, topo, first = commune
    start, end = window(schedule, first)
    timeline = resolve(schedule, topo, start, end)
    check_invariants(schedule, timeline)
    for notice in timeline.notices:
        event(f"notice {notice.code}")
    if any(s.fragment for lane in timeline.lanes for s in lane.slots):
        event("a pre-emption")
    if any(s.start_ns > s.requested_ns for lane in timeline.lanes for s in lane.slots):
        event("a delayed airing")
    assert set(timeline.agents) == set(topo.agents)
    for agent in topo.agents:
        slots = plan_slots(timeline, agent)
        assert msgspec.msgpack.decode(msgspec.msgpack.encode(slots), type=list[PlanSlot]) \
            == slots


@PROPERTY
@given(communes())
def test_every_airing_is_aired_or_reported(commune: tuple[Schedule, Topology, date]) -> None:
    """Nothing is lost silently: each requested airing ends as a complete slot on each
    targeted agent, or as a notice naming it and the agent."""
    schedule, topo, first = commune
    start, end = window(schedule, first)
    timeline = resolve(schedule, topo, start, end)
    aired = {(a, s.slot_id) for lane in timeline.lanes for a in lane.agents
             for s in lane.slots if not s.fragment}
    reported = {(a, n.slot_id) for n in timeline.notices for a in n.agents
                if hasattr(n, "slot_id")}
    outside = {(n.programme, n.at_ns) for n in timeline.notices
               if isinstance(n, OutsideSession)}
    checked = 0
    for programme in schedule.programmes:
        agents = resolve_targets(programme.targets, topo).agents
        runs, _ = expand_runs(schedule, programme, start, end - 6 * HOUR)
        for run in runs:
            assert (programme.programme_id, run.occurrence_ns) not in outside
            for airing in run.airings:
                if not start <= airing.requested_ns < end - 6 * HOUR:
                    continue
                for agent in agents:
                    checked += 1
                    key = (agent, airing.base_id)
                    assert (key in aired) != (key in reported), key
    assert checked >= 0


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(communes(), st.randoms(use_true_random=False))
def test_same_input_in_any_order_gives_the_same_timeline(
        commune: tuple[Schedule, Topology, date], rnd: random.Random) -> None:
    schedule, topo, first = commune
    start, end = window(schedule, first)
    shuffle = rnd.shuffle
    programmes, sessions, clusters = (list(schedule.programmes), list(schedule.sessions),
                                      list(topo.clusters))
    shuffle(programmes)
    shuffle(sessions)
    shuffle(clusters)
    permuted = Schedule(commune=schedule.commune, tz=schedule.tz, sessions=tuple(sessions),
                        programmes=tuple(programmes))
    again = resolve(permuted, Topology(clusters=tuple(clusters)), start, end)
    assert again == resolve(schedule, topo, start, end)
    assert msgspec.msgpack.encode(again) == msgspec.msgpack.encode(
        resolve(schedule, topo, start, end))
