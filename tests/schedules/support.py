"""Builders and invariant checks shared by the schedules tests."""

from __future__ import annotations

import hashlib
import itertools
from collections import defaultdict
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from protocols.messages import HardTimePolicy
from schedules import (
    Cluster,
    Item,
    Preempted,
    ResolvedSlot,
    Schedule,
    Skipped,
    Timeline,
    Topology,
)

VN = "Asia/Ho_Chi_Minh"
MIN = 60_000  # ms
NS_MIN = 60 * 10**9


def sha(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


def item(name: str, minutes: float) -> Item:
    return Item(content=sha(name), duration_ms=int(minutes * MIN))


def ns(day: date, at: time, tz: str = VN) -> int:
    """Reference conversion, independent of ``schedules.localtime``."""
    aware = datetime.combine(day, at, tzinfo=ZoneInfo(tz))
    return int(aware.timestamp()) * 10**9 + aware.microsecond * 1000


def clock(slot: ResolvedSlot, tz: str = VN) -> str:
    """``HH:MM[:SS]`` local start, for readable assertions."""
    local = datetime.fromtimestamp(slot.start_ns / 10**9, ZoneInfo(tz))
    return local.strftime("%H:%M:%S" if local.second else "%H:%M")


def topology(spec: dict[str, list[str]]) -> Topology:
    """``{"v1": ["c1", "c2"], ...}``: clusters per village; agent id ``a-<cluster>``."""
    return Topology(clusters=tuple(
        Cluster(cluster_id=c, village=v, agent_id=f"a-{c}") for v, cs in spec.items()
        for c in cs))


def summary(timeline: Timeline, agent: str, tz: str = VN) -> list[tuple[str, str, float]]:
    """(programme, local start, minutes) of an agent's slots, fragments marked ``*``."""
    return [(s.programme + ("*" if s.fragment else ""), clock(s, tz), s.duration_ms / MIN)
            for s in timeline.for_agent(agent)]


def covering(slots: tuple[ResolvedSlot, ...], instant: int) -> list[ResolvedSlot]:
    return [s for s in slots if s.start_ns <= instant < s.end_ns]


def check_invariants(schedule: Schedule, timeline: Timeline) -> None:
    """Everything the resolver promises on every lane, whatever the input."""
    programmes = {p.programme_id: p for p in schedule.programmes}
    sessions = {s.session_id: s for s in schedule.sessions}
    for lane in timeline.lanes:
        slots = lane.slots
        ids = [s.slot_id for s in slots]
        assert len(ids) == len(set(ids)), "slot ids are unique on a lane"
        for before, after in itertools.pairwise(slots):
            assert before.end_ns <= after.start_ns, f"overlap {before.slot_id} {after.slot_id}"
        used: dict[tuple[str, int], int] = defaultdict(int)
        first_try: dict[str, ResolvedSlot] = {}
        for s in slots:
            assert len(s.slot_id) <= 96
            assert s.duration_ms > 0
            assert s.start_ns >= s.requested_ns, f"{s.slot_id} airs before it is due"
            assert s.end_ns <= s.window_end_ns, f"{s.slot_id} overruns its window"
            base = s.slot_id.rsplit("-p", 1)[0] if s.fragment else s.slot_id
            first_try.setdefault(base, s)
            full = programmes[s.programme].items[s.airing % len(programmes[s.programme].items)]
            assert s.duration_ms <= full.duration_ms
            assert s.fragment or s.duration_ms == full.duration_ms
            if s.session is not None:
                assert s.session_start_ns is not None
                session = sessions[s.session]
                assert s.start_ns >= s.session_start_ns
                assert s.end_ns <= s.session_start_ns + session.window_minutes * NS_MIN
                used[(s.session, s.session_start_ns)] += s.duration_ms
                assert used[(s.session, s.session_start_ns)] <= session.cap_ms, "cap exceeded"
            if s.fragment:
                # cut short only by something of strictly higher precedence starting then
                successor = [t for t in slots if t.start_ns == s.end_ns]
                assert successor and successor[0].precedence > s.precedence, s.slot_id
        by_start = sorted(slots, key=lambda t: t.start_ns)
        for base, s in first_try.items():
            if s.continued or s.requested_ns < timeline.start_ns:
                continue  # followed its pass, or its history is before the window
            due = s.requested_ns
            if s.policy is HardTimePolicy.SKIP_IF_BUSY:
                assert s.start_ns == due, f"{base} skip_if_busy but delayed"
            if s.start_ns > due:
                # it waited: whatever held the air at its due time outranked it, or it
                # chose to queue; and nothing it outranked was *chosen* while it waited
                if s.policy is HardTimePolicy.PREEMPT:
                    held = covering(slots, due)
                    assert held and all(h.precedence >= s.precedence for h in held), base
                for t in by_start:
                    if due <= t.start_ns < s.start_ns and not t.continued:
                        assert t.precedence >= s.precedence, f"{t.slot_id} jumped {base}"
    for notice in timeline.notices:
        if isinstance(notice, Skipped | Preempted):
            assert notice.agents
        if isinstance(notice, Skipped):
            programme = programmes[notice.programme]
            index = int(notice.slot_id.rsplit("-", 1)[1]) if len(programme.items) * \
                programme.repeat > 1 else 0
            k = index % len(programme.items)
            pass_start = notice.at_ns - sum(i.duration_ms for i in programme.items[:k]) * 10**6
            if pass_start < timeline.start_ns:
                continue
            for agent in notice.agents:
                held = covering(timeline.for_agent(agent), pass_start)
                assert held, f"{notice.slot_id} skipped on a free air"
                assert any(h.slot_id.startswith(notice.busy_slot_id) for h in held)
