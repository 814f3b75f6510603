"""The append-only audit log: every operator action, written in the same transaction as
the action itself (so there is never an action without its entry, nor an entry for an
action that was rolled back), and read back filtered and paginated within the reader's
scope.

``commune_id`` holds the unit the action belongs to: the commune for a station, cluster,
agent or code; the unit itself for unit operations (so a province-level action is
scoped to the province); none for user accounts, which only top admins see.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, or_, select

from controller.events import AuditRecorded
from controller.registry.timebase import StationTime
from controller.registry.work import Work, reading
from controller.security.authz import Permission, Principal, Scope
from controller.storage.database import Database
from controller.storage.tables.audit import AuditEntry
from controller.storage.tables.registry import AdminUnit

MAX_PAGE = 500


def record(work: Work, who: Principal, action: str, *, target: str = "",
           commune_id: int | None = None, detail: dict[str, Any] | None = None) -> AuditEntry:
    """Add an entry to the current transaction and queue its event for after commit."""
    entry = AuditEntry(at=work.time.now(), user_id=who.user_id, username=who.username[:64],
                       commune_id=commune_id, action=action, target=target[:200],
                       detail=json.dumps(detail or {}, default=str, sort_keys=True,
                                         ensure_ascii=False),
                       source=who.source[:16])
    work.session.add(entry)
    work.session.flush()
    assert entry.id is not None
    unit = work.session.get(AdminUnit, commune_id) if commune_id is not None else None
    work.events.append(AuditRecorded(commune_id=commune_id, commune=unit.key if unit else None,
                                     at=entry.at, entry_id=entry.id, username=entry.username,
                                     action=action, target=entry.target, source=entry.source))
    return entry


@dataclass(frozen=True)
class AuditFilter:
    commune: str | None = None  # a unit key
    username: str | None = None
    action: str | None = None  # exact, or a prefix ending in "." (e.g. "agent.")
    target: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    before_id: int | None = None  # keyset pagination: entries older than this id
    limit: int = 50


@dataclass(frozen=True)
class AuditView:
    id: int
    at: dt.datetime
    username: str
    commune: str | None
    action: str
    target: str
    detail: dict[str, Any]
    source: str


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditView]
    next_before_id: int | None  # pass as ``before_id`` for the next (older) page


class AuditLog:
    """Reading the log. Writing goes through :func:`record` inside a unit of work."""

    def __init__(self, db: Database, time: StationTime) -> None:
        self.db = db
        self.time = time

    def query(self, who: Principal, query: AuditFilter) -> AuditPage:
        limit = max(1, min(query.limit, MAX_PAGE))
        with reading(self.db, self.time) as work:
            scope = Scope(work.session, who, self.time.today())
            statement = select(AuditEntry)
            if not who.system:
                visible = scope.units(Permission.READ)
                condition: Any = col(AuditEntry.commune_id).in_(visible)
                if scope.is_top_admin():
                    condition = or_(condition, col(AuditEntry.commune_id).is_(None))
                statement = statement.where(condition)
            if query.commune is not None:
                unit = work.session.exec(select(AdminUnit).where(
                    AdminUnit.key == query.commune)).first()
                wanted = scope.graph.below({unit.id}) if unit and unit.id else set()
                statement = statement.where(col(AuditEntry.commune_id).in_(wanted))
            if query.username is not None:
                statement = statement.where(AuditEntry.username == query.username)
            if query.action is not None:
                if query.action.endswith("."):
                    statement = statement.where(col(AuditEntry.action).startswith(
                        query.action, autoescape=True))
                else:
                    statement = statement.where(AuditEntry.action == query.action)
            if query.target is not None:
                statement = statement.where(AuditEntry.target == query.target)
            if query.since is not None:
                statement = statement.where(col(AuditEntry.at) >= query.since)
            if query.until is not None:
                statement = statement.where(col(AuditEntry.at) < query.until)
            if query.before_id is not None:
                statement = statement.where(col(AuditEntry.id) < query.before_id)
            rows = list(work.session.exec(
                statement.order_by(col(AuditEntry.id).desc()).limit(limit + 1)))
            keys = scope.graph.keys
        more = len(rows) > limit
        rows = rows[:limit]
        views = [AuditView(id=r.id or 0, at=r.at, username=r.username,
                           commune=keys.get(r.commune_id) if r.commune_id else None,
                           action=r.action, target=r.target, detail=_detail(r.detail),
                           source=r.source) for r in rows]
        return AuditPage(views, views[-1].id if more and views else None)


def _detail(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {"raw": text}
    return value if isinstance(value, dict) else {"value": value}
