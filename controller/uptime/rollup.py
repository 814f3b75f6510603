"""Keeping the daily rollups right as records arrive, in any order.

Whenever a batch touches a boot (an interval record or an anchor of it), that boot's
contribution to each local day is recomputed from *all* its spans and anchors so far
and replaces the previous one; the touched days are then re-summed per agent, and the
months of those days re-summed from the days. Because the result is a function of the
stored records only, duplicates, reordering and late backfill all converge on the same
rollups.

The rollups are kept for the maintainer's own service window and for every window
registered in ``uptime_window`` (a second indicator definition whose rollups were built
by ``controller.uptime.windows``), so each stays current as records arrive.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    String,
    Table,
    and_,
    delete,
    func,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from protocols.messages import Anchor as AnchorRecord

from ..storage.tables.fleet import AvailabilitySpan, JournalRecord
from ..storage.tables.uptime import UptimeBootDay, UptimeDay, UptimeMonth, UptimeWindow
from ..storage.types import utcnow
from .keys import pairs_in
from .placement import Anchor, Span, place
from .window import ServiceWindow

RECORDS: Table = JournalRecord.__table__  # type: ignore[attr-defined]
SPANS: Table = AvailabilitySpan.__table__  # type: ignore[attr-defined]
BOOT_DAYS: Table = UptimeBootDay.__table__  # type: ignore[attr-defined]
DAYS: Table = UptimeDay.__table__  # type: ignore[attr-defined]
MONTHS: Table = UptimeMonth.__table__  # type: ignore[attr-defined]
WINDOWS: Table = UptimeWindow.__table__  # type: ignore[attr-defined]
COLUMNS = ["up_ms_e0", "up_ms_e1", "up_ms_e2", "up_ms_e3", "unanchored_ms"]
BOOT_CHUNK = 200  # boots per statement: bound parameters and SQLite's expression depth
AGENT_CHUNK = 200  # (1000 by default) stay well under their limits
ANCHOR_KIND = AnchorRecord.__struct_config__.tag
# Inline, not a bound parameter: ix_journal_record_anchors is partial (kind = 2) and a
# planner only uses it when the query states the same literal condition.
ANCHOR_LITERAL: ColumnElement[int] = literal_column(str(ANCHOR_KIND))
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
        self._of_boots = _of_boots_or if dialect == "sqlite" else _of_boots_unnest

    def windows(self, conn: Connection) -> list[ServiceWindow]:
        """Its own window first, then every other registered one."""
        found = [self.window]
        for row in conn.execute(select(WINDOWS.c.window_key, WINDOWS.c.start_local,
                                       WINDOWS.c.end_local, WINDOWS.c.tz)
                                .order_by(WINDOWS.c.window_key)):
            if row.window_key != self.window.key:
                found.append(ServiceWindow(dt.time.fromisoformat(row.start_local),
                                           dt.time.fromisoformat(row.end_local), row.tz))
        return found

    def refresh(self, conn: Connection, commune_id: int, boots: Iterable[BootKey]) -> int:
        """Recompute the given boots and the days they touch, in every maintained window;
        returns the days re-summed in the maintainer's own window."""
        keys = sorted(set(boots))
        counts = [self.refresh_window(conn, commune_id, keys, window)
                  for window in self.windows(conn)]
        return counts[0]

    def refresh_window(self, conn: Connection, commune_id: int, boots: Iterable[BootKey],
                       window: ServiceWindow) -> int:
        """Recompute the given boots in one window; returns the days re-summed.

        The boots of one call are read and rewritten together (a handful of statements
        per chunk of boots, not per boot): a backlog drain touches every agent's boots
        in every transaction, and round trips, not rows, are what a remote PostgreSQL
        charges for."""
        touched: set[tuple[str, dt.date]] = set()
        keys = sorted(set(boots))
        for start in range(0, len(keys), BOOT_CHUNK):
            touched |= self._refresh_boots(conn, commune_id, keys[start:start + BOOT_CHUNK],
                                           window)
        self._resum(conn, commune_id, touched, window.key)
        self._resum_months(conn, commune_id, {(agent, day.replace(day=1))
                                              for agent, day in touched}, window.key)
        return len(touched)

    def _refresh_boots(self, conn: Connection, commune_id: int, keys: list[BootKey],
                       window: ServiceWindow) -> set[tuple[str, dt.date]]:
        spans: dict[BootKey, list[Span]] = defaultdict(list)
        raw: dict[BootKey, dict[int, tuple[int, int]]] = defaultdict(dict)
        for row in conn.execute(select(
                SPANS.c.agent_id, SPANS.c.journal_id, SPANS.c.boot, SPANS.c.interval,
                SPANS.c.start_mono_ns, SPANS.c.end_mono_ns, SPANS.c.evidence,
                SPANS.c.start_wall_ns, SPANS.c.end_wall_ns).where(
                self._of_boots(SPANS, keys), SPANS.c.start_mono_ns.is_not(None))):
            key = BootKey(row.agent_id, row.journal_id, row.boot)
            spans[key].append(Span(row.interval, row.start_mono_ns, row.end_mono_ns,
                                   row.evidence))
            raw[key][row.interval] = (row.start_wall_ns, row.end_wall_ns)
        anchors: dict[BootKey, list[Anchor]] = defaultdict(list)
        for anchor in conn.execute(select(
                RECORDS.c.agent_id, RECORDS.c.journal_id, RECORDS.c.boot, RECORDS.c.mono_ns,
                RECORDS.c.wall_ns, RECORDS.c.quality).where(
                self._of_boots(RECORDS, keys), RECORDS.c.kind == ANCHOR_LITERAL)):
            anchors[BootKey(anchor.agent_id, anchor.journal_id, anchor.boot)].append(
                Anchor(anchor.mono_ns, anchor.wall_ns, anchor.quality))
        mine = and_(BOOT_DAYS.c.window_key == window.key, self._of_boots(BOOT_DAYS, keys))
        touched = {(row.agent_id, row.day) for row in conn.execute(
            select(BOOT_DAYS.c.agent_id, BOOT_DAYS.c.day).where(mine))}
        conn.execute(delete(BOOT_DAYS).where(mine))
        rows = []
        for key in keys:
            days = contributions(spans.get(key, []), raw.get(key, {}), anchors.get(key, []),
                                 window)
            touched |= {(key.agent_id, day) for day in days}
            rows += [{"agent_id": key.agent_id, "journal_id": key.journal_id,
                      "boot": key.boot, "window_key": window.key, "day": day,
                      "commune_id": commune_id, "up_ms_e0": ms[0], "up_ms_e1": ms[1],
                      "up_ms_e2": ms[2], "up_ms_e3": ms[3], "unanchored_ms": ms[4]}
                     for day, ms in days.items()]
        if rows:
            conn.execute(BOOT_DAYS.insert(), rows)
        return touched

    def _resum(self, conn: Connection, commune_id: int, touched: set[tuple[str, dt.date]],
               window_key: str) -> None:
        if not touched:
            return
        by_agent: dict[str, list[tuple[str, dt.date]]] = defaultdict(list)
        for pair in sorted(touched):
            by_agent[pair[0]].append(pair)
        agents = sorted(by_agent)
        for start in range(0, len(agents), AGENT_CHUNK):
            self._resum_pairs(conn, commune_id, [pair for agent in
                                                 agents[start:start + AGENT_CHUNK]
                                                 for pair in by_agent[agent]], window_key)

    def _resum_pairs(self, conn: Connection, commune_id: int,
                     pairs: list[tuple[str, dt.date]], window_key: str) -> None:
        columns = COLUMNS
        sums = conn.execute(
            select(BOOT_DAYS.c.agent_id, BOOT_DAYS.c.day,
                   *[func.sum(BOOT_DAYS.c[c]).label(c) for c in columns])
            .where(BOOT_DAYS.c.window_key == window_key,
                   pairs_in(BOOT_DAYS.c.agent_id, BOOT_DAYS.c.day, pairs))
            .group_by(BOOT_DAYS.c.agent_id, BOOT_DAYS.c.day)).all()
        present = {(row.agent_id, row.day) for row in sums}
        empty = [pair for pair in pairs if pair not in present]
        if empty:
            conn.execute(delete(DAYS).where(DAYS.c.window_key == window_key,
                                            pairs_in(DAYS.c.agent_id, DAYS.c.day, empty)))
        if not sums:
            return
        now = utcnow()
        rows = [{"agent_id": row.agent_id, "window_key": window_key, "day": row.day,
                 "commune_id": commune_id, "updated_at": now,
                 **{c: int(getattr(row, c)) for c in columns}} for row in sums]
        statement = self._dialect.insert(DAYS)
        statement = statement.on_conflict_do_update(
            index_elements=["agent_id", "window_key", "day"],
            set_={c: statement.excluded[c] for c in [*columns, "updated_at"]})
        conn.execute(statement, rows)

    def _resum_months(self, conn: Connection, commune_id: int,
                      months: set[tuple[str, dt.date]], window_key: str) -> None:
        """Re-sum the given (agent, first day of month) pairs from ``uptime_day``."""
        if not months:
            return
        agents = sorted({agent for agent, _ in months})
        first = min(month for _, month in months)
        last = next_month(max(month for _, month in months))
        sums: dict[tuple[str, dt.date], list[int]] = {}
        for row in conn.execute(
                select(DAYS.c.agent_id, DAYS.c.day, *[DAYS.c[c] for c in COLUMNS])
                .where(DAYS.c.window_key == window_key, DAYS.c.agent_id.in_(agents),
                       DAYS.c.day >= first, DAYS.c.day < last)):
            key = (row.agent_id, row.day.replace(day=1))
            if key in months:
                total = sums.setdefault(key, [0] * len(COLUMNS))
                for index, column in enumerate(COLUMNS):
                    total[index] += int(getattr(row, column))
        empty = sorted(months - set(sums))
        for start in range(0, len(empty), AGENT_CHUNK):
            conn.execute(delete(MONTHS).where(MONTHS.c.window_key == window_key,
                                              pairs_in(MONTHS.c.agent_id, MONTHS.c.month,
                                                       empty[start:start + AGENT_CHUNK])))
        if not sums:
            return
        now = utcnow()
        rows = [{"agent_id": agent, "window_key": window_key, "month": month,
                 "commune_id": commune_id, "updated_at": now,
                 **dict(zip(COLUMNS, total, strict=True))}
                for (agent, month), total in sorted(sums.items())]
        statement = self._dialect.insert(MONTHS)
        statement = statement.on_conflict_do_update(
            index_elements=["agent_id", "window_key", "month"],
            set_={c: statement.excluded[c] for c in [*COLUMNS, "updated_at"]})
        conn.execute(statement, rows)


def _of_boots_or(table: Table, keys: list[BootKey]) -> ColumnElement[bool]:
    """``(agent, journal, boot) in keys`` as an OR of ``agent = ? AND journal = ? AND
    boot IN (...)``: unlike a row-value IN list, every branch is an index search in
    SQLite."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for key in keys:
        groups[(key.agent_id, key.journal_id)].append(key.boot)
    return or_(*[and_(table.c.agent_id == agent, table.c.journal_id == journal,
                      table.c.boot.in_(sorted(boots)))
                 for (agent, journal), boots in sorted(groups.items())])


def _of_boots_unnest(table: Table, keys: list[BootKey]) -> ColumnElement[bool]:
    """PostgreSQL: ``(agent, journal, boot) IN (SELECT * FROM unnest(agents, journals,
    boots))``, a semi-join searched through the key's index. Three array parameters give
    one statement text whatever the keys, compiled once and cached; the OR form cost a
    backlog drain's commit thread a sixth of its time in building and compiling."""
    keys_table = func.unnest(
        literal([key.agent_id for key in keys], ARRAY(String)),
        literal([key.journal_id for key in keys], ARRAY(String)),
        literal([key.boot for key in keys], ARRAY(BigInteger)),
    ).table_valued("agent_id", "journal_id", "boot").render_derived("boot_keys")
    return tuple_(table.c.agent_id, table.c.journal_id, table.c.boot).in_(
        select(keys_table.c.agent_id, keys_table.c.journal_id, keys_table.c.boot))


def next_month(day: dt.date) -> dt.date:
    """The first day of the month after ``day``'s."""
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
