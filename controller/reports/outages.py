"""Outages: the gaps in an agent's placed availability, and the intervals around them.

Spans are placed exactly as the rollups place them (``controller.uptime.placement``:
each boot from its reference anchor, so a wall-clock step moves nothing), and only
spans with evidence at or above the definition's level count as up. An *outage* is a
maximal stretch of the report period with no such span; it is reported with its wall
start and end (an outage from 20:00 to 06:00 the next morning is one outage, even
though the night is outside the service window) and with the milliseconds of it that
fell inside the service window, which is what it costs in availability. An outage
wholly outside the window is listed (downtime is reported) with 0 ms counted. Each
outage says what covered it, if anything: spans of a boot that never got an anchor
(``unanchored``), spans below the evidence level (``low-evidence``), or nothing at all
(``no-record``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Table, select
from sqlalchemy.engine import Connection

from ..storage.tables.fleet import AvailabilitySpan, JournalRecord
from ..storage.tables.uptime import UptimeBootDay
from ..uptime.placement import Anchor, Span, place
from ..uptime.rollup import ANCHOR_LITERAL
from ..uptime.window import ServiceWindow

SPANS: Table = AvailabilitySpan.__table__  # type: ignore[attr-defined]
RECORDS: Table = JournalRecord.__table__  # type: ignore[attr-defined]
BOOT_DAYS: Table = UptimeBootDay.__table__  # type: ignore[attr-defined]
DAY_NS = 86_400 * 10**9


class Cause(StrEnum):
    NO_RECORD = "no-record"
    LOW_EVIDENCE = "low-evidence"
    UNANCHORED = "unanchored"


@dataclass(frozen=True)
class Interval:
    """One availability span as placed for the report (the record behind a figure)."""

    agent_id: str
    journal_id: str
    boot: int
    interval: int  # the seq of its IntervalOpen record
    start_ns: int
    end_ns: int
    evidence: int
    anchored: bool


@dataclass(frozen=True)
class Outage:
    agent_id: str
    start_ns: int
    end_ns: int
    in_window_ms: int
    cause: Cause
    from_before: bool  # already down when the period started
    ongoing: bool  # still down when the report was made

    @property
    def duration_ms(self) -> int:
        return (self.end_ns - self.start_ns) // 1_000_000


def in_window_ms(window: ServiceWindow, start_ns: int, end_ns: int) -> int:
    if end_ns <= start_ns:
        return 0
    return sum(window.overlap_ns(day, start_ns, end_ns)
               for day in window.days_between(start_ns, end_ns)) // 1_000_000


def intervals(conn: Connection, agent_id: str, window_key: str, start_ns: int,
              end_ns: int, window: ServiceWindow) -> list[Interval]:
    """The agent's spans that may fall in ``[start_ns, end_ns)``, placed. Boots are found
    through the daily rollups (where placement put them) and through the spans' own wall
    stamps (a night-time span the rollups skip), a day either side."""
    first_day = window.local_day(start_ns) - dt.timedelta(days=1)
    last_day = window.local_day(max(start_ns, end_ns - 1)) + dt.timedelta(days=1)
    boots = {(row.journal_id, row.boot) for row in conn.execute(
        select(BOOT_DAYS.c.journal_id, BOOT_DAYS.c.boot).where(
            BOOT_DAYS.c.agent_id == agent_id, BOOT_DAYS.c.window_key == window_key,
            BOOT_DAYS.c.day >= first_day, BOOT_DAYS.c.day <= last_day))}
    boots |= {(row.journal_id, row.boot) for row in conn.execute(
        select(SPANS.c.journal_id, SPANS.c.boot).where(
            SPANS.c.agent_id == agent_id, SPANS.c.end_wall_ns >= start_ns - DAY_NS,
            SPANS.c.start_wall_ns <= end_ns + DAY_NS))}
    if not boots:
        return []
    by_boot: dict[tuple[str, int], list[tuple[Span, int, int]]] = defaultdict(list)
    anchors: dict[tuple[str, int], list[Anchor]] = defaultdict(list)
    journals = sorted({journal for journal, _ in boots})
    for row in conn.execute(select(SPANS).where(SPANS.c.agent_id == agent_id,
                                                SPANS.c.journal_id.in_(journals),
                                                SPANS.c.start_mono_ns.is_not(None))):
        if (row.journal_id, row.boot) in boots:
            by_boot[(row.journal_id, row.boot)].append(
                (Span(row.interval, row.start_mono_ns, row.end_mono_ns, row.evidence),
                 row.start_wall_ns, row.end_wall_ns))
    for row in conn.execute(select(RECORDS.c.journal_id, RECORDS.c.boot, RECORDS.c.mono_ns,
                                   RECORDS.c.wall_ns, RECORDS.c.quality).where(
            RECORDS.c.agent_id == agent_id, RECORDS.c.journal_id.in_(journals),
            RECORDS.c.kind == ANCHOR_LITERAL)):
        if (row.journal_id, row.boot) in boots:
            anchors[(row.journal_id, row.boot)].append(Anchor(row.mono_ns, row.wall_ns,
                                                              row.quality))
    found: list[Interval] = []
    for (journal, boot), items in sorted(by_boot.items()):
        pieces = place([span for span, _, _ in items], anchors.get((journal, boot), []))
        if pieces is None:
            found.extend(Interval(agent_id, journal, boot, span.interval, start, end,
                                  span.evidence, anchored=False)
                         for span, start, end in items if end > start)
            continue
        found.extend(Interval(agent_id, journal, boot, p.interval, p.start_ns, p.end_ns,
                              p.evidence, anchored=True) for p in pieces)
    return sorted((i for i in found if i.end_ns > start_ns and i.start_ns < end_ns),
                  key=lambda i: (i.start_ns, i.end_ns, i.journal_id, i.interval))


def outages(agent_id: str, spans: list[Interval], start_ns: int, end_ns: int,
            min_evidence: int, window: ServiceWindow, until_ns: int) -> list[Outage]:
    """The gaps in ``[start_ns, min(end_ns, until_ns))`` not covered by an anchored span
    with evidence at ``min_evidence`` or above."""
    stop = min(end_ns, until_ns)
    if stop <= start_ns:
        return []
    up = sorted((max(i.start_ns, start_ns), min(i.end_ns, stop)) for i in spans
                if i.anchored and i.evidence >= min_evidence)
    gaps: list[tuple[int, int]] = []
    cursor = start_ns
    for begin, finish in up:
        if finish <= begin:
            continue
        if begin > cursor:
            gaps.append((cursor, begin))
        cursor = max(cursor, finish)
    if cursor < stop:
        gaps.append((cursor, stop))
    result = []
    for begin, finish in gaps:
        result.append(Outage(agent_id, begin, finish, in_window_ms(window, begin, finish),
                             _cause(spans, begin, finish, min_evidence),
                             from_before=begin == start_ns, ongoing=finish == until_ns))
    return result


def _cause(spans: list[Interval], start_ns: int, end_ns: int, min_evidence: int) -> Cause:
    covering = [i for i in spans if i.start_ns < end_ns and i.end_ns > start_ns]
    if any(not i.anchored for i in covering):
        return Cause.UNANCHORED
    if any(i.evidence < min_evidence for i in covering):
        return Cause.LOW_EVIDENCE
    return Cause.NO_RECORD
