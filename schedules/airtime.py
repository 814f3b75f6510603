"""The air-time rules, applied ahead of time to one lane's runs.

The resolver does not invent its own notion of "fitting": it plays the lane forward the
way an agent would air it, event by event, so the plan *is* what the rules produce and
the agent's local pre-emption (emergencies) follows the same rules:

* When the air is free, the best waiting run starts: highest precedence (placement,
  priority, operator rank), then the earliest request, then the programme id.
* A run due while something is on air acts on its hard-time policy: ``preempt``
  interrupts the airing if it has strictly higher precedence (otherwise it waits),
  ``queue_after`` waits, ``skip_if_busy`` is dropped and reported.
* An interrupted airing is kept as a *fragment* (it did air until then) and its run goes
  back to waiting: it restarts the interrupted item from the beginning when it is again
  the best choice, if it can still finish inside its window; otherwise it is reported as
  pre-empted.
* The items of one pass play back to back (a playlist is not interleaved), each only if
  it can finish inside the window and the session cap.
* A session's cap counts the airtime actually aired, fragments included: a restart
  after pre-emption that would push the session over its cap is refused (reported as
  pre-empted).

Anything that cannot start now can never start later (windows only close, caps only
fill), so dropping is final and the loop ends. Same input, same output: every choice is
a total order.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from protocols.messages import HardTimePolicy

from .localtime import NS_PER_MS
from .model import Precedence
from .notices import AnyNotice, CapExceeded, Preempted, Skipped, WindowPassed
from .runs import RunSpec, SessionKey
from .timeline import ResolvedSlot, fragment_id

_WAITING, _AIRING, _DONE = 0, 1, 2


@dataclass(slots=True)
class _Run:
    spec: RunSpec
    next: int = 0  # the airing to play next
    fragments: int = 0  # fragments already aired of airing ``next``
    preempted_by: tuple[str, str] | None = None  # (programme, slot id) of the last pre-emptor
    state: int = _WAITING


@dataclass(slots=True)
class _OnAir:
    run: _Run
    start_ns: int
    end_ns: int
    continued: bool


@dataclass(slots=True)
class _Lane:
    agents: tuple[str, ...]
    slots: list[ResolvedSlot] = field(default_factory=list)
    notices: list[AnyNotice] = field(default_factory=list)
    used_ms: dict[SessionKey, int] = field(default_factory=dict)
    waiting: list[tuple[Precedence, tuple[int, str, str], _Run]] = field(
        default_factory=list)
    on_air: _OnAir | None = None

    # ------------------------------------------------------------------ bookkeeping

    def wait(self, run: _Run) -> None:
        run.state = _WAITING
        heapq.heappush(self.waiting, (run.spec.best_first, run.spec.order, run))

    def emit(self, run: _Run, start_ns: int, duration_ms: int, fragment: bool,
             continued: bool) -> None:
        spec = run.spec
        airing = spec.airings[run.next]
        self.slots.append(ResolvedSlot(
            slot_id=fragment_id(airing.base_id, run.fragments + 1) if fragment
            else airing.base_id,
            programme=spec.programme, start_ns=start_ns, duration_ms=duration_ms,
            content=airing.item.content, priority=spec.priority, policy=spec.policy,
            window_end_ns=spec.window_end_ns, requested_ns=airing.requested_ns,
            occurrence_ns=spec.occurrence_ns, airing=airing.index, rank=spec.rank,
            placement=spec.placement, session=spec.session[0] if spec.session else None,
            session_start_ns=spec.session[1] if spec.session else None, fragment=fragment,
            continued=continued, extrapolated=spec.extrapolated))
        if spec.session is not None:
            self.used_ms[spec.session] = self.used_ms.get(spec.session, 0) + duration_ms

    # ------------------------------------------------------------------ starting and stopping

    def fits(self, run: _Run, now: int) -> tuple[bool, bool, int]:
        """Whether the next airing fits its window and its session cap if started now."""
        spec = run.spec
        duration_ms = spec.airings[run.next].item.duration_ms
        used = self.used_ms.get(spec.session, 0) if spec.session else 0
        return (now + duration_ms * NS_PER_MS <= spec.window_end_ns,
                spec.cap_ms is None or used + duration_ms <= spec.cap_ms, used)

    def try_start(self, run: _Run, now: int, continued: bool) -> bool:
        """Start ``run``'s next airing now, or drop the rest of the run and say why."""
        duration_ms = run.spec.airings[run.next].item.duration_ms
        fits_window, fits_cap, used = self.fits(run, now)
        if fits_window and fits_cap:
            run.state = _AIRING
            self.on_air = _OnAir(run, now, now + duration_ms * NS_PER_MS, continued)
            return True
        self.drop(run, now, fits_window, used)
        return False

    def drop(self, run: _Run, now: int, fits_window: bool, used_ms: int) -> None:
        spec = run.spec
        run.state = _DONE
        for airing in spec.airings[run.next:]:
            if run.preempted_by is not None:
                self.notices.append(Preempted(
                    programme=spec.programme, agents=self.agents, at_ns=airing.requested_ns,
                    slot_id=airing.base_id, by_programme=run.preempted_by[0],
                    by_slot_id=run.preempted_by[1], window_end_ns=spec.window_end_ns))
            elif not fits_window or spec.session is None or spec.cap_ms is None:
                self.notices.append(WindowPassed(
                    programme=spec.programme, agents=self.agents, at_ns=airing.requested_ns,
                    slot_id=airing.base_id, earliest_ns=now, window_end_ns=spec.window_end_ns))
            else:
                self.notices.append(CapExceeded(
                    programme=spec.programme, agents=self.agents, at_ns=airing.requested_ns,
                    slot_id=airing.base_id, session=spec.session[0],
                    session_start_ns=spec.session[1], cap_ms=spec.cap_ms, used_ms=used_ms,
                    needed_ms=spec.pass_ms))

    def start_best(self, now: int) -> None:
        while self.waiting and self.on_air is None:
            _, _, run = heapq.heappop(self.waiting)
            if run.state == _WAITING:
                self.try_start(run, now, continued=False)

    def finish(self) -> None:
        """The airing on air ends; its pass continues with the next item, if any."""
        assert self.on_air is not None
        air, self.on_air = self.on_air, None
        run = air.run
        self.emit(run, air.start_ns, (air.end_ns - air.start_ns) // NS_PER_MS,
                  fragment=False, continued=air.continued)
        run.next += 1
        run.fragments = 0
        run.preempted_by = None
        if run.next < len(run.spec.airings):
            self.try_start(run, air.end_ns, continued=True)
        else:
            run.state = _DONE

    def interrupt(self, now: int, by: _Run) -> None:
        assert self.on_air is not None
        air, self.on_air = self.on_air, None
        run = air.run
        if now > air.start_ns:
            self.emit(run, air.start_ns, (now - air.start_ns) // NS_PER_MS, fragment=True,
                      continued=air.continued)
            run.fragments += 1
        by_airing = by.spec.airings[by.next]
        run.preempted_by = (by.spec.programme, by_airing.base_id)
        self.wait(run)

    def skip(self, run: _Run) -> None:
        assert self.on_air is not None
        busy = self.on_air.run
        run.state = _DONE
        for airing in run.spec.airings:
            self.notices.append(Skipped(
                programme=run.spec.programme, agents=self.agents, at_ns=airing.requested_ns,
                slot_id=airing.base_id, busy_programme=busy.spec.programme,
                busy_slot_id=busy.spec.airings[busy.next].base_id))

    # ------------------------------------------------------------------ one instant

    def arrive(self, now: int, batch: list[_Run]) -> None:
        """Runs due at ``now`` (sorted best first) meet whatever is on air."""
        if self.on_air is None and not self.waiting and len(batch) == 1:
            self.try_start(batch[0], now, continued=False)  # the common case: a free air
            return
        if self.on_air is not None:
            current = self.on_air.run.spec.precedence
            # only an arrival that can actually air now may interrupt
            preemptor = next((r for r in batch if r.spec.policy is HardTimePolicy.PREEMPT
                              and r.spec.precedence > current
                              and all(self.fits(r, now)[:2])), None)
            if preemptor is None:
                for run in batch:
                    if run.spec.policy is HardTimePolicy.SKIP_IF_BUSY:
                        self.skip(run)
                    else:
                        self.wait(run)
                return
            self.interrupt(now, preemptor)
        for run in batch:
            self.wait(run)
        self.start_best(now)
        for run in batch:
            if run.state == _WAITING and run.spec.policy is HardTimePolicy.SKIP_IF_BUSY:
                self.skip(run)


def air(runs: list[RunSpec], agents: tuple[str, ...]) -> tuple[list[ResolvedSlot],
                                                                 list[AnyNotice]]:
    """Play ``runs`` forward on one lane: the slots that air, and what did not."""
    lane = _Lane(agents)
    pending = sorted((_Run(spec) for spec in runs),
                     key=lambda r: (r.spec.requested_ns, r.spec.best_first, r.spec.order))
    i = 0
    while True:
        next_end = lane.on_air.end_ns if lane.on_air is not None else None
        next_due = pending[i].spec.requested_ns if i < len(pending) else None
        if next_end is None and next_due is None:
            break
        now = min(t for t in (next_end, next_due) if t is not None)
        if next_end == now:
            lane.finish()
        batch: list[_Run] = []
        while i < len(pending) and pending[i].spec.requested_ns == now:
            batch.append(pending[i])
            i += 1
        if batch:
            lane.arrive(now, batch)  # when the air is free, arrivals and waiters compete
        elif lane.on_air is None:
            lane.start_best(now)
    return lane.slots, lane.notices
