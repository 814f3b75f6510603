"""Timeline resolution for a realistic commune: 50 clusters, a year of programmes.

Workload (issue 6): 50 clusters in 10 villages; sessions at 05:00 (45 min), 11:00 on
weekdays (15 min) and 17:00 (45 min); a daily VOV relay at 05:00, the morning bulletin,
the evening news and a music fill, weekly health / law / agriculture items, a weekly
announcement per village, a 30-day priority campaign, a few one-off items, and a storm
bulletin every 60 minutes for 3 days at emergency priority (pre-empting whatever is on
air). Two variants: per-village items only (agents share lanes), and additionally one
weekly item per cluster (50 distinct timelines, the worst case).

Run:  .venv/bin/python bench/bench_timeline.py [--repeat N]
Prints wall times (best and median of N) and the slots produced.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import statistics
import time as clock
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from protocols.messages import HardTimePolicy, Priority
from schedules import (
    Cluster,
    Daily,
    DateRange,
    Every,
    Item,
    Once,
    Programme,
    Recurrence,
    Schedule,
    Session,
    Targets,
    Topology,
    Weekday,
    Weekly,
    check_programme,
    expand_routine,
    extract_routine,
    plan_slots,
    resolve,
)

T = TypeVar("T")
TZ = "Asia/Ho_Chi_Minh"
FIRST = date(2025, 1, 1)
VILLAGES = [f"thon-{v:02d}" for v in range(1, 11)]


def ns(day: date, at: time) -> int:
    aware = datetime.combine(day, at, tzinfo=ZoneInfo(TZ))
    return int(aware.timestamp()) * 10**9


def audio(name: str, minutes: float) -> Item:
    return Item(content=hashlib.sha256(name.encode()).digest(),
                duration_ms=int(minutes * 60_000))


def programme(pid: str, minutes: float, rule: Recurrence, **kw: Any) -> Programme:
    return Programme(programme_id=pid, items=(audio(pid, minutes),), recurrence=rule, **kw)


def topology() -> Topology:
    return Topology(clusters=tuple(
        Cluster(cluster_id=f"cum-{v:02d}-{c}", village=VILLAGES[v - 1],
                agent_id=f"ag-{v:02d}-{c}")
        for v in range(1, 11) for c in range(1, 6)))


def commune(per_cluster: bool) -> Schedule:
    weekdays = Weekday.ALL & ~(Weekday.SAT | Weekday.SUN)
    sessions = (Session(session_id="sang", start=time(5), cap_minutes=45),
                Session(session_id="trua", start=time(11), cap_minutes=15, weekdays=weekdays),
                Session(session_id="chieu", start=time(17), cap_minutes=45))
    storm_start = datetime(2025, 9, 14, 8, 0)
    programmes = [
        programme("vov-relay", 30, Daily(), session="sang", priority=Priority.FILL),
        programme("ban-tin-sang", 10, Daily(at=time(5, 30)), session="sang"),
        programme("thong-bao-trua", 5, Daily(), session="trua"),
        programme("chien-dich", 5, DateRange(first=date(2025, 3, 1), last=date(2025, 3, 30),
                                             at=time(11, 5)), session="trua",
                  priority=Priority.PRIORITY),
        programme("thoi-su-chieu", 15, Daily(), session="chieu"),
        programme("suc-khoe", 10, Weekly(weekdays=Weekday.MON | Weekday.THU,
                                         at=time(17, 15)), session="chieu"),
        programme("phap-luat", 10, Weekly(weekdays=Weekday.WED, at=time(17, 15)),
                  session="chieu"),
        programme("nong-nghiep", 10, Weekly(weekdays=Weekday.TUE | Weekday.FRI,
                                            at=time(17, 15)), session="chieu",
                  targets=Targets(villages=frozenset(VILLAGES[:6]))),
        programme("nhac", 20, Daily(at=time(17, 25)), session="chieu",
                  priority=Priority.FILL, policy=HardTimePolicy.SKIP_IF_BUSY),
        programme("bao-bao", 3, Every(minutes=60, start=storm_start,
                                      end=storm_start + timedelta(days=3)),
                  priority=Priority.EMERGENCY, policy=HardTimePolicy.PREEMPT),
        programme("quoc-khanh", 15, Once(on=date(2025, 9, 2), at=time(7)),
                  priority=Priority.PRIORITY),
        programme("tet", 15, Once(on=date(2025, 1, 28), at=time(19)),
                  priority=Priority.PRIORITY),
    ]
    programmes += [programme(f"loa-{v}", 5, Weekly(weekdays=Weekday.SAT, at=time(5, 40)),
                             session="sang", targets=Targets(villages=frozenset({v})))
                   for v in VILLAGES]
    if per_cluster:
        programmes += [programme(f"rieng-{c.cluster_id}", 2,
                                 Weekly(weekdays=Weekday.SUN, at=time(5, 40)),
                                 session="sang",
                                 targets=Targets(clusters=frozenset({c.cluster_id})))
                       for c in topology().clusters]
    return Schedule(commune="xa-demo", tz=TZ, sessions=sessions, programmes=tuple(programmes))


def timed(fn: Callable[[], T], repeat: int) -> tuple[float, float, T]:
    """Best and median wall time (s) of ``repeat`` calls, and the last result."""
    times: list[float] = []
    for _ in range(repeat):
        started = clock.perf_counter()
        result = fn()
        times.append(clock.perf_counter() - started)
    return min(times), statistics.median(times), result


def report(label: str, best: float, median: float, extra: str = "") -> None:
    print(f"{label:<17} best {best * 1000:8.1f} ms  median {median * 1000:8.1f} ms  {extra}")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run(schedule: Schedule, topo: Topology, repeat: int) -> None:
    year_start, year_end = ns(FIRST, time(0)), ns(date(2026, 1, 1), time(0))
    week_end = year_start + 7 * 86_400 * 10**9

    best, median, year = timed(partial(resolve, schedule, topo, year_start, year_end), repeat)
    distinct = sum(len(lane.slots) for lane in year.lanes)
    per_agent = sum(len(lane.slots) * len(lane.agents) for lane in year.lanes)
    report("resolve 1 year", best, median,
           f"lanes {len(year.lanes)}  slots {distinct} distinct / {per_agent} per-agent  "
           f"notices {len(year.notices)}")

    best, median, week = timed(partial(resolve, schedule, topo, year_start, week_end), repeat)
    report("resolve 7 days", best, median,
           f"slots {sum(len(lane.slots) * len(lane.agents) for lane in week.lanes)} per-agent")

    best, median, _ = timed(lambda: [plan_slots(week, a) for a in topo.agents], repeat)
    report("plan slots x50", best, median)

    proposed = programme("moi", 10, Daily(at=time(17, 20)), session="chieu")
    best, median, checked = timed(partial(check_programme, schedule, topo, proposed,
                                          year_start, week_end,
                                          ready_at=lambda agent, content: year_start), repeat)
    report("check 7 days", best, median,
           f"conflicts {len(checked.conflicts)}  impact {len(checked.impact)}")

    routine = extract_routine(schedule, topo, topo.agents[0], week_end)
    best, median, slots = timed(partial(expand_routine, routine, TZ, week_end,
                                        week_end + 30 * 86_400 * 10**9), repeat)
    report("routine 30 days", best, median, f"items {len(routine)}  slots {len(slots)}")


def main() -> None:
    parser = argparse.ArgumentParser(description="timeline resolution benchmark")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"python {platform.python_version()}, {os.cpu_count()} cpus, {cpu_model()}")
    topo = topology()
    for per_cluster in (False, True):
        schedule = commune(per_cluster)
        label = "with a weekly item per cluster" if per_cluster else "per-village items"
        print(f"\n== {label}: {len(topo.clusters)} clusters, "
              f"{len(schedule.programmes)} programmes, 2025-01-01 .. 2026-01-01 {TZ}")
        run(schedule, topo, args.repeat)


if __name__ == "__main__":
    main()
