"""Reading alerts through the operator API, within the reader's scope."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select

from controller.registry.stations import find_commune
from controller.registry.timebase import StationTime
from controller.registry.work import reading
from controller.security.authz import Permission, Principal, Scope
from controller.storage.database import Database
from controller.storage.tables.reports import Alert

MAX_ALERTS = 1000


@dataclass(frozen=True)
class AlertView:
    id: int
    commune: str
    kind: str
    subject: str
    raised_at: dt.datetime
    cleared_at: dt.datetime | None
    detail: dict[str, Any]


class AlertService:
    def __init__(self, db: Database, time: StationTime) -> None:
        self.db = db
        self.time = time

    def alerts(self, who: Principal, commune: str | None = None, open_only: bool = False,
               since: dt.datetime | None = None, limit: int = 200) -> list[AlertView]:
        """Newest first."""
        with reading(self.db, self.time) as work:
            scope = Scope(work.session, who, self.time.today())
            statement = select(Alert).where(
                col(Alert.commune_id).in_(scope.units(Permission.READ)))
            if commune is not None:
                unit = find_commune(work.session, commune)
                scope.require(Permission.READ, unit.id)
                statement = statement.where(Alert.commune_id == unit.id)
            if open_only:
                statement = statement.where(col(Alert.cleared_at).is_(None))
            if since is not None:
                statement = statement.where(col(Alert.raised_at) >= since)
            rows = list(work.session.exec(statement.order_by(
                col(Alert.raised_at).desc(), col(Alert.id).desc()).limit(
                    max(1, min(limit, MAX_ALERTS)))))
            keys = scope.graph.keys
        return [AlertView(r.id or 0, keys.get(r.commune_id, "?"), r.kind, r.subject,
                          r.raised_at, r.cleared_at, _detail(r.detail)) for r in rows]


def _detail(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
