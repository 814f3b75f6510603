"""Building the rollups of a service window from every stored span, and registering it.

Indicator definitions are versioned configuration: a report may name a definition other
than the one the station (or collector) maintains its rollups for, and the configured
definition itself may change. Rollups are keyed by the service window, so such a report
would read none and show 0 %. Instead, the first report that asks for a window not in
``uptime_window`` has its rollups built here (``ensure``), and ``loaxa uptime rebuild``
does it ahead of time; once registered, every ingest keeps the window current
(``RollupMaintainer.refresh``).

A build must not miss a batch stored while it runs, nor leave a batch that was stored
in between refreshed only in the older windows. So it takes the write side first: on
PostgreSQL a lock on ``journal_record`` that waits for the batches being stored and holds
off new ones until the build commits; on SQLite its first statement is a write, which
takes the database's single write lock for the whole transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import delete, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from ..storage.database import Database
from ..storage.types import utcnow
from .rollup import BOOT_DAYS, DAYS, MONTHS, SPANS, WINDOWS, BootKey, RollupMaintainer
from .window import ServiceWindow

log = logging.getLogger("loaxa.uptime")
AGENTS_PER_PASS = 100  # boots of this many agents are refreshed together


@dataclass(frozen=True)
class Built:
    """What a build did: the window, and how many boots and agent-days it rolled up."""

    window_key: str
    boots: int
    days: int


@dataclass(frozen=True)
class Registered:
    window_key: str
    start_local: str
    end_local: str
    tz: str
    definition: str
    built_at: dt.datetime


def registered(db: Database) -> list[Registered]:
    with db.engine.connect() as conn:
        return [Registered(row.window_key, row.start_local, row.end_local, row.tz,
                           row.definition, row.built_at)
                for row in conn.execute(select(WINDOWS).order_by(WINDOWS.c.window_key))]


def is_registered(conn: Connection, window: ServiceWindow) -> bool:
    return conn.execute(select(WINDOWS.c.window_key).where(
        WINDOWS.c.window_key == window.key)).first() is not None


def ensure(db: Database, window: ServiceWindow, definition: str) -> Built | None:
    """Build the window's rollups unless they are registered already (None then)."""
    with db.engine.connect() as conn:
        if is_registered(conn, window):
            return None
    log.info("building the rollups of service window %s (definition %s)", window.key,
             definition)
    with db.engine.begin() as conn:
        if not _claim(conn, db.dialect, window, definition, again=False):
            return None  # built by someone else while this one waited for the lock
        return _rebuild(conn, window, RollupMaintainer(window, db.dialect))


def build(db: Database, window: ServiceWindow, definition: str) -> Built:
    """(Re)compute the window's rollups from every stored span, and register it."""
    with db.engine.begin() as conn:
        _claim(conn, db.dialect, window, definition, again=True)
        return _rebuild(conn, window, RollupMaintainer(window, db.dialect))


def _claim(conn: Connection, dialect_name: str, window: ServiceWindow, definition: str, *,
           again: bool) -> bool:
    """Take the write side (see above), then register the window in this transaction;
    False when ``again`` is not set and it is registered already."""
    if dialect_name == "postgresql":
        conn.execute(text("LOCK TABLE journal_record IN SHARE ROW EXCLUSIVE MODE"))
    dialect = sqlite if dialect_name == "sqlite" else postgresql
    statement = dialect.insert(WINDOWS).values(
        window_key=window.key, start_local=f"{window.start:%H:%M}",
        end_local=f"{window.end:%H:%M}", tz=window.tz, definition=definition[:64],
        built_at=utcnow())
    if again:
        conn.execute(statement.on_conflict_do_update(
            index_elements=["window_key"], set_={"built_at": statement.excluded.built_at}))
        return True
    return bool(conn.execute(statement.on_conflict_do_nothing(
        index_elements=["window_key"])).rowcount)


def forget(db: Database, window_key: str) -> bool:
    """Stop maintaining a window and delete its rollups; False if it was not registered
    (a report asking for it again builds it again)."""
    with db.engine.begin() as conn:
        found = conn.execute(delete(WINDOWS).where(WINDOWS.c.window_key == window_key))
        for table in (MONTHS, DAYS, BOOT_DAYS):
            conn.execute(delete(table).where(table.c.window_key == window_key))
    return bool(found.rowcount)


def _rebuild(conn: Connection, window: ServiceWindow, maintainer: RollupMaintainer) -> Built:
    for table in (MONTHS, DAYS, BOOT_DAYS):
        conn.execute(delete(table).where(table.c.window_key == window.key))
    boots = days = 0
    communes = sorted(set(conn.execute(select(SPANS.c.commune_id).distinct()).scalars()))
    for commune_id in communes:
        by_agent: dict[str, list[BootKey]] = defaultdict(list)
        for found in conn.execute(
                select(SPANS.c.agent_id, SPANS.c.journal_id, SPANS.c.boot).distinct().where(
                    SPANS.c.commune_id == commune_id, SPANS.c.start_mono_ns.is_not(None))):
            by_agent[found.agent_id].append(BootKey(found.agent_id, found.journal_id,
                                                    found.boot))
        agents = sorted(by_agent)
        for start in range(0, len(agents), AGENTS_PER_PASS):
            keys = [key for agent in agents[start:start + AGENTS_PER_PASS]
                    for key in by_agent[agent]]
            boots += len(keys)
            days += maintainer.refresh_window(conn, commune_id, keys, window)
    return Built(window.key, boots, days)


__all__ = ["Built", "Registered", "build", "ensure", "forget", "registered"]
