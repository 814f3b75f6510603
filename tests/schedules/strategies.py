"""Hypothesis strategies: small but dense communes, where programmes clash a lot."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from hypothesis import strategies as st

from protocols.messages import HardTimePolicy, Priority
from schedules import (
    Cluster,
    Daily,
    DateRange,
    Every,
    Item,
    Once,
    Placement,
    Programme,
    Recurrence,
    Schedule,
    Session,
    Targets,
    Topology,
    Weekday,
    Weekly,
)

from .support import VN, sha

EDGES = [date(y, m, d) for y in (2023, 2024, 2025, 2027, 2028)
         for m, d in ((1, 1), (2, 28), (3, 1), (4, 30), (12, 31))] + [date(2024, 2, 29)]
first_days = st.one_of(
    st.builds(lambda d, k: d + timedelta(days=k), st.sampled_from(EDGES), st.integers(-2, 1)),
    st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)))
HOURS = [5, 6, 11, 17]  # where a commune's day is busy


def _clock(minutes: int) -> time:
    minutes %= 1440
    return time(minutes // 60, minutes % 60)


@st.composite
def topologies(draw: st.DrawFn) -> Topology:
    n = draw(st.integers(1, 4))
    return Topology(clusters=tuple(
        Cluster(cluster_id=f"c{i}", village=f"v{draw(st.integers(1, 3))}", agent_id=f"a{i}")
        for i in range(n)))


@st.composite
def sessions(draw: st.DrawFn) -> tuple[Session, ...]:
    found = []
    for i in range(draw(st.integers(0, 2))):
        cap = draw(st.integers(5, 45))
        found.append(Session(
            session_id=f"s{i}", start=time(draw(st.sampled_from(HOURS)),
                                          draw(st.sampled_from([0, 30]))),
            cap_minutes=cap, length_minutes=draw(st.none() | st.integers(cap, cap + 60)),
            weekdays=Weekday(draw(st.sampled_from([127, 127, 31, 96, 85])))))
    return tuple(found)


@st.composite
def recurrences(draw: st.DrawFn, first: date, at: time | None) -> Recurrence:
    def near() -> date:
        return first + timedelta(days=draw(st.integers(-1, 3)))

    kind = draw(st.sampled_from(["once", "daily", "weekly", "range", "every"]))
    if kind == "once":
        return Once(on=near(), at=at)
    if kind == "daily":
        return Daily(at=at, since=draw(st.none() | st.just(near())))
    if kind == "weekly":
        return Weekly(weekdays=Weekday(draw(st.integers(1, 127))), at=at)
    if kind == "range":
        start = near()
        return DateRange(first=start, last=start + timedelta(days=draw(st.integers(0, 3))),
                         at=at, weekdays=Weekday(draw(st.sampled_from([127, 127, 31, 96]))))
    begin = datetime.combine(near(), time(draw(st.sampled_from(HOURS))))
    return Every(minutes=draw(st.sampled_from([20, 30, 45, 60, 90])), start=begin,
                 end=begin + timedelta(hours=draw(st.integers(1, 30))),
                 daily_from=draw(st.none() | st.just(time(5))),
                 daily_until=draw(st.none() | st.just(time(20))))


@st.composite
def targets(draw: st.DrawFn, topology: Topology) -> Targets:
    """Mostly the whole commune (so lanes clash), sometimes a part, rarely a stranger."""
    kind = draw(st.sampled_from(["all", "all", "all", "villages", "clusters", "unknown"]))
    if kind == "all":
        return Targets()
    if kind == "villages":
        return Targets(villages=draw(st.frozensets(st.sampled_from(sorted(topology.villages)),
                                                   min_size=1)))
    if kind == "clusters":
        return Targets(clusters=draw(st.frozensets(
            st.sampled_from([c.cluster_id for c in topology.clusters]), min_size=1)))
    return Targets(villages=frozenset({"v9"}), clusters=frozenset({"c9"}))


@st.composite
def programmes(draw: st.DrawFn, index: int, first: date, available: tuple[Session, ...],
               topology: Topology) -> Programme:
    session = draw(st.none() | st.sampled_from(available)) if available else None
    if session is None:
        at: time | None = _clock(draw(st.sampled_from(HOURS)) * 60
                                 + draw(st.integers(0, 5)) * 5)
    elif draw(st.booleans()):
        at = None
    else:
        offset = draw(st.integers(0, session.window_minutes - 1))
        at = _clock(session.start.hour * 60 + session.start.minute + offset)
    items = tuple(Item(content=sha(f"p{index}-{k}"),
                       duration_ms=draw(st.integers(30, 25 * 60)) * 1000
                       + draw(st.sampled_from([0, 0, 250])))
                  for k in range(draw(st.integers(1, 3))))
    return Programme(
        programme_id=f"p{index}", items=items, recurrence=draw(recurrences(first, at)),
        session=session.session_id if session else None,
        targets=draw(targets(topology)),
        priority=draw(st.sampled_from(list(Priority))),
        policy=draw(st.sampled_from([*HardTimePolicy, HardTimePolicy.PREEMPT])),
        repeat=draw(st.integers(1, 3)),
        repeat_gap_s=draw(st.sampled_from([0, 60, 600])), rank=draw(st.integers(0, 2)),
        placement=draw(st.sampled_from([Placement.AT_TIME] * 3 + [Placement.OVERRIDE,
                                                                  Placement.APPEND])),
        max_delay_minutes=draw(st.none() | st.integers(0, 90)))


@st.composite
def communes(draw: st.DrawFn) -> tuple[Schedule, Topology, date]:
    first = draw(first_days)
    found = draw(sessions())
    tz = draw(st.sampled_from([VN, VN, VN, "Europe/Paris"]))
    topology = draw(topologies())
    schedule = Schedule(commune="xa", tz=tz, sessions=found, programmes=tuple(
        draw(programmes(i, first, found, topology)) for i in range(draw(st.integers(1, 8)))))
    return schedule, topology, first
