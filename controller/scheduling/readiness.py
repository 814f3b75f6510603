"""When will an item be in an agent's cache? The question behind "cannot reach the agent
in time" conflicts, asked when programming.

A :class:`ReadinessEstimator` answers it for one conflict check: given the agents a
programme targets and the items it airs with the first airing of each
(:func:`first_airings`: the deadline their transfers would have), it returns a
:class:`Readiness`, which ``schedules.check_programme`` calls as its ``ReadyAt`` and which
then says *why* an answer is missing (:meth:`Readiness.explain`: the agent is offline,
last seen then), since ``ReadyAt`` itself only answers a time.

* :class:`LibraryReadiness` (the default, and what an API without a running station
  uses): content the commune's library holds counts as ready now everywhere; content it
  does not hold has no estimate.
* ``delivery.DeliveryEstimator``: the station's real answer, plugged in where the content
  service starts (``controller.dataplane.content_component``) from what the station knows
  of each agent and of the transfer queue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import msgspec
from sqlmodel import col, select

from controller.storage.database import Database
from controller.storage.tables.library import LibraryItem
from schedules import ConflictReport, NotCachedInTime, Programme, Schedule
from schedules.runs import expand_runs


@dataclass(frozen=True)
class Reach:
    """One agent and one item: when it can be there (None: no promise), and why not."""

    ready_ns: int | None
    offline: bool = False  # the agent is offline without the item
    last_seen_ns: int | None = None  # when it was last heard from (None: never)


NO_ESTIMATE = Reach(None)


class Readiness:
    """The answers of one estimate: a ``schedules.ReadyAt`` that can also say why."""

    def __init__(self, answers: Mapping[tuple[str, bytes], Reach],
                 default: Reach = NO_ESTIMATE) -> None:
        self._answers = answers
        self._default = default

    def reach(self, agent_id: str, content: bytes) -> Reach:
        return self._answers.get((agent_id, content), self._default)

    def __call__(self, agent_id: str, content: bytes) -> int | None:
        return self.reach(agent_id, content).ready_ns

    def explain(self, report: ConflictReport) -> ConflictReport:
        """``report`` with each not-in-time conflict saying whether its agent is offline."""
        conflicts = []
        for conflict in report.conflicts:
            if isinstance(conflict, NotCachedInTime):
                why = self.reach(conflict.agent_id, conflict.content)
                conflict = msgspec.structs.replace(conflict, offline=why.offline,
                                                   last_seen_ns=why.last_seen_ns)
            conflicts.append(conflict)
        return msgspec.structs.replace(report, conflicts=tuple(conflicts))


class ReadinessEstimator(Protocol):
    def estimate(self, commune_id: int, now_ns: int, agents: Sequence[str],
                 airs: Mapping[bytes, int]) -> Readiness:
        """For one conflict check: the ``agents`` targeted, and each item with its first
        airing (UTC ns), the deadline its transfer would have."""
        ...


def first_airings(schedule: Schedule, programme: Programme, start_ns: int,
                  end_ns: int) -> dict[bytes, int]:
    """Each item of ``programme`` and its first requested airing in ``[start, end)``, as
    ``schedules.check_programme`` expands it (raises ``ScheduleError`` as it does)."""
    joined = schedule.without(programme.programme_id).with_programme(programme)
    runs, _ = expand_runs(joined, programme, start_ns, end_ns)
    first: dict[bytes, int] = {}
    for run in runs:
        for airing in run.airings:
            content = airing.item.content
            first[content] = min(airing.requested_ns, first.get(content, airing.requested_ns))
    return first


class LibraryReadiness:
    def __init__(self, db: Database) -> None:
        self.db = db

    def estimate(self, commune_id: int, now_ns: int, agents: Sequence[str],
                 airs: Mapping[bytes, int]) -> Readiness:
        with self.db.session() as session:
            held = set(session.exec(select(LibraryItem.sha256).where(
                LibraryItem.commune_id == commune_id,
                col(LibraryItem.sha256).in_([c.hex() for c in airs]))))
        return Readiness({(agent, content): Reach(now_ns)
                          for agent in agents for content in airs if content.hex() in held})
