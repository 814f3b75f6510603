"""Sessions + programmes + topology -> every agent's timeline for a window.

Agents that receive exactly the same set of programmes get the same timeline, so they
share a *lane* and are resolved once: a commune of 50 clusters typically has a handful
of lanes (whole-commune items plus a few village-specific ones). The result does not
depend on the order of anything in the input: programmes, clusters and lanes are
sorted, and every choice in the air-time rules is a total order.
"""

from __future__ import annotations

from collections import defaultdict

import msgspec

from .airtime import air
from .caps import admit
from .localtime import DAY_NS
from .model import Schedule
from .notices import AnyNotice, NoAgents, OutsideSession, UnknownTarget, notice_order
from .runs import RunSpec, expand_runs
from .timeline import Lane, Timeline
from .topology import Topology, resolve_targets

DEFAULT_HORIZON_NS = 7 * DAY_NS
DEFAULT_LOOKBACK_NS = DAY_NS


def resolve(schedule: Schedule, topology: Topology, start_ns: int, end_ns: int | None = None,
            *, lookback_ns: int = DEFAULT_LOOKBACK_NS) -> Timeline:
    """Resolve ``[start_ns, end_ns)`` (default: 7 days) for every agent of ``topology``.

    Occurrences from ``lookback_ns`` before the window are played too, so whatever is
    still on air or waiting at ``start_ns`` is accounted for exactly as in the previous
    plan; the result keeps the slots that end after ``start_ns`` and start before
    ``end_ns``, and the notices about airings requested inside the window.
    """
    end = start_ns + DEFAULT_HORIZON_NS if end_ns is None else end_ns
    first = start_ns - lookback_ns
    notices: list[AnyNotice] = []
    runs_of: dict[str, list[RunSpec]] = {}
    heard_by: dict[str, set[str]] = defaultdict(set)  # agent -> programme ids
    for programme in sorted(schedule.programmes, key=lambda p: p.programme_id):
        pid = programme.programme_id
        targets = resolve_targets(programme.targets, topology)
        notices.extend(UnknownTarget(programme=pid, agents=(), at_ns=start_ns,
                                     kind="village", target=v)
                       for v in targets.unknown_villages)
        notices.extend(UnknownTarget(programme=pid, agents=(), at_ns=start_ns,
                                     kind="cluster", target=c)
                       for c in targets.unknown_clusters)
        if not targets.agents:
            notices.append(NoAgents(programme=pid, agents=(), at_ns=start_ns))
            continue
        runs, outside = expand_runs(schedule, programme, first, end)
        runs_of[pid] = runs
        notices.extend(OutsideSession(programme=pid, agents=targets.agents, at_ns=t,
                                      session=programme.session or "")
                       for t in outside if t >= start_ns)
        for agent in targets.agents:
            heard_by[agent].add(pid)

    lanes_of: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for agent in topology.agents:
        lanes_of[tuple(sorted(heard_by.get(agent, ())))].append(agent)
    lanes: list[Lane] = []
    for programmes, members in lanes_of.items():
        agents = tuple(sorted(members))
        runs = [run for pid in programmes for run in runs_of[pid]]
        admitted, refused = admit(runs, agents)
        slots, lane_notices = air(admitted, agents)
        lanes.append(Lane(agents=agents, slots=tuple(
            s for s in slots if s.end_ns > start_ns and s.start_ns < end)))
        notices.extend(n for n in (*refused, *lane_notices) if start_ns <= n.at_ns < end)
    lanes.sort(key=lambda lane: lane.agents)
    return Timeline(commune=schedule.commune, tz=schedule.tz, start_ns=start_ns, end_ns=end,
                    lanes=tuple(lanes), notices=merge_notices(notices))


def merge_notices(notices: list[AnyNotice]) -> tuple[AnyNotice, ...]:
    """One notice per event, naming every agent it concerns (lanes report separately)."""
    agents_of: dict[AnyNotice, set[str]] = defaultdict(set)
    for notice in notices:
        agents_of[msgspec.structs.replace(notice, agents=())].update(notice.agents)
    merged = [msgspec.structs.replace(n, agents=tuple(sorted(a))) for n, a in agents_of.items()]
    return tuple(sorted(merged, key=notice_order))
