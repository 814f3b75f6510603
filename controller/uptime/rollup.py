"""Keeping the daily rollups right as records arrive, in any order.

Whenever a batch touches a boot (an interval record or an anchor of it), that boot's
contribution to each local day is recomputed from *all* its spans and anchors so far
and replaces the previous one; the touched days are then re-summed per agent. Because
the result is a function of the stored records only, duplicates, reordering and late
backfill all converge on the same rollups.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Table, and_, delete, func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from protocols.messages import Anchor as AnchorRecord

from ..storage.tables.fleet import AvailabilitySpan, JournalRecord
from ..storage.tables.uptime import UptimeBootDay, UptimeDay
from ..storage.types import utcnow
from .placement import Anchor, Span, place
from .window import ServiceWindow

RECORDS: Table = JournalRecord.__table__  # type: ignore[attr-defined]
SPANS: Table = AvailabilitySpan.__table__  # type: ignore[attr-defined]
BOOT_DAYS: Table = UptimeBootDay.__table__  # type: ignore[attr-defined]
DAYS: Table = UptimeDay.__table__  # type: ignore[attr-defined]
ANCHOR_KIND = AnchorRecord.__struct_config__.tag
LEVELS = 4


@dataclass(frozen=True, order=True)
class BootKey:
    agent_id: str
    journal_id: str
    boot: int


def contributions(spans: Iterable[Span], raw_walls: dict[int, tuple[int, int]],
                  anchors: Iterable[Anchor], window: ServiceWindow
                  ) -> dict[dt.date, list[int]]:
    """Milliseconds per day: ``[e0, e1, e2, e3, unanchored]`` inside the service window."""
    span_list = list(spans)
    days: dict[dt.date, list[int]] = defaultdict(lambda: [0] * (LEVELS + 1))
    pieces = place(span_list, anchors)
    if pieces is None:
        # Unanchored: shown where the agent's own clock put it, never counted as up.
        for span in span_list:
            start, end = raw_walls[span.interval]
            for day in window.days_between(start, end):
                days[day][LEVELS] += window.overlap_ns(day, start, end) // 1_000_000
        return dict(days)
    for piece in pieces:
        for day in window.days_between(piece.start_ns, piece.end_ns):
            level = min(max(piece.evidence, 0), LEVELS - 1)
            days[day][level] += window.overlap_ns(day, piece.start_ns, piece.end_ns) // 1_000_000
    return {day: ms for day, ms in days.items() if any(ms)}


class RollupMaintainer:
    def __init__(self, window: ServiceWindow, dialect: str) -> None:
        self.window = window
        self._dialect = sqlite if dialect == "sqlite" else postgresql

    def refresh(self, conn: Connection, commune_id: int, boots: Iterable[BootKey]) -> int:
        """Recompute the given boots and the days they touch; returns days re-summed."""
        touched: set[tuple[str, dt.date]] = set()
        for boot in sorted(set(boots)):
            touched |= self._refresh_boot(conn, commune_id, boot)
        self._resum(conn, commune_id, touched)
        return len(touched)

    def _refresh_boot(self, conn: Connection, commune_id: int,
                      key: BootKey) -> set[tuple[str, dt.date]]:
        where = and_(SPANS.c.agent_id == key.agent_id, SPANS.c.journal_id == key.journal_id,
                     SPANS.c.boot == key.boot, SPANS.c.start_mono_ns.is_not(None))
        spans, raw = [], {}
        for row in conn.execute(select(SPANS.c.interval, SPANS.c.start_mono_ns,
                                       SPANS.c.end_mono_ns, SPANS.c.evidence,
                                       SPANS.c.start_wall_ns, SPANS.c.end_wall_ns).where(where)):
            spans.append(Span(row.interval, row.start_mono_ns, row.end_mono_ns, row.evidence))
            raw[row.interval] = (row.start_wall_ns, row.end_wall_ns)
        anchors = [Anchor(row.mono_ns, row.wall_ns, row.quality) for row in conn.execute(
            select(RECORDS.c.mono_ns, RECORDS.c.wall_ns, RECORDS.c.quality).where(
                RECORDS.c.agent_id == key.agent_id, RECORDS.c.journal_id == key.journal_id,
                RECORDS.c.boot == key.boot, RECORDS.c.kind == ANCHOR_KIND))]
        days = contributions(spans, raw, anchors, self.window)
        mine = and_(BOOT_DAYS.c.agent_id == key.agent_id,
                    BOOT_DAYS.c.journal_id == key.journal_id, BOOT_DAYS.c.boot == key.boot,
                    BOOT_DAYS.c.window_key == self.window.key)
        before = {row.day for row in conn.execute(select(BOOT_DAYS.c.day).where(mine))}
        conn.execute(delete(BOOT_DAYS).where(mine))
        if days:
            conn.execute(BOOT_DAYS.insert(), [
                {"agent_id": key.agent_id, "journal_id": key.journal_id, "boot": key.boot,
                 "window_key": self.window.key, "day": day, "commune_id": commune_id,
                 "up_ms_e0": ms[0], "up_ms_e1": ms[1], "up_ms_e2": ms[2], "up_ms_e3": ms[3],
                 "unanchored_ms": ms[4]} for day, ms in days.items()])
        return {(key.agent_id, day) for day in before | set(days)}

    def _resum(self, conn: Connection, commune_id: int,
               touched: set[tuple[str, dt.date]]) -> None:
        if not touched:
            return
        pairs = sorted(touched)
        columns = ["up_ms_e0", "up_ms_e1", "up_ms_e2", "up_ms_e3", "unanchored_ms"]
        sums = conn.execute(
            select(BOOT_DAYS.c.agent_id, BOOT_DAYS.c.day,
                   *[func.sum(BOOT_DAYS.c[c]).label(c) for c in columns])
            .where(BOOT_DAYS.c.window_key == self.window.key,
                   tuple_(BOOT_DAYS.c.agent_id, BOOT_DAYS.c.day).in_(pairs))
            .group_by(BOOT_DAYS.c.agent_id, BOOT_DAYS.c.day)).all()
        present = {(row.agent_id, row.day) for row in sums}
        empty = [pair for pair in pairs if pair not in present]
        if empty:
            conn.execute(delete(DAYS).where(DAYS.c.window_key == self.window.key,
                                            tuple_(DAYS.c.agent_id, DAYS.c.day).in_(empty)))
        if not sums:
            return
        now = utcnow()
        rows = [{"agent_id": row.agent_id, "window_key": self.window.key, "day": row.day,
                 "commune_id": commune_id, "updated_at": now,
                 **{c: int(getattr(row, c)) for c in columns}} for row in sums]
        statement = self._dialect.insert(DAYS)
        statement = statement.on_conflict_do_update(
            index_elements=["agent_id", "window_key", "day"],
            set_={c: statement.excluded[c] for c in [*columns, "updated_at"]})
        conn.execute(statement, rows)
