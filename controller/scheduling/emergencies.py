"""Emergency broadcasts from cache: started without approval by a holder of the emergency
permission, audited, stopped, and acknowledged by an approver afterwards.

The row is committed first (with its audit entry), then announced as the commune's
retained document; the document version is written back to the row. If the controller
stops in between, :meth:`EmergencyService.reconcile` announces the state at the next
start, so an emergency recorded as started (or stopped) is never left unannounced.
One emergency is active per commune: starting another supersedes it.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import secrets
import threading

from sqlmodel import Session, col, or_, select

from controller.audit import record
from controller.events import (
    EmergencyAcknowledged,
    EmergencyStarted,
    EmergencyStopped,
    EventBus,
)
from controller.i18n import N_
from controller.registry.errors import Conflict, Invalid, NotFound
from controller.registry.timebase import StationTime
from controller.registry.work import Work, reading, unit_of_work
from controller.security.authz import Principal
from controller.storage.database import Database
from controller.storage.tables.library import LibraryItem
from controller.storage.tables.schedule import EmergencyBroadcast

from .access import CommuneAccess
from .announcer import EmergencyBroadcaster, NoBroadcaster
from .pins import check_sha
from .publishing import mark_text
from .topology import commune_villages
from .views import EmergencyView

log = logging.getLogger("loaxa.scheduling")
MAX_LISTED = 200


def new_emergency_id(now: dt.datetime) -> str:
    suffix = base64.b32encode(secrets.token_bytes(3)).decode().lower().rstrip("=")
    return f"em-{now.strftime('%Y%m%dt%H%M%S')}-{suffix}"


def emergency_view(commune: str, row: EmergencyBroadcast) -> EmergencyView:
    return EmergencyView(
        commune=commune, id=row.id, active=row.stopped_at is None, content=row.content,
        title=row.title, villages=list(json.loads(row.villages)),
        repeat_every_s=row.repeat_every_s, volume=row.volume,
        attention_tone=row.attention_tone, started_at=row.started_at,
        started_by=row.started_by, stopped_at=row.stopped_at, stopped_by=row.stopped_by,
        stop_reason=row.stop_reason, acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by, acknowledgement=row.acknowledgement,
        document_version=mark_text(row.stop_epoch, row.stop_version) if row.stopped_at
        else mark_text(row.start_epoch, row.start_version))


def active_emergency(session: Session, commune_id: int) -> EmergencyBroadcast | None:
    return session.exec(select(EmergencyBroadcast).where(
        EmergencyBroadcast.commune_id == commune_id,
        col(EmergencyBroadcast.stopped_at).is_(None))
        .order_by(col(EmergencyBroadcast.started_ns).desc())).first()


class EmergencyService:
    def __init__(self, db: Database, bus: EventBus, time: StationTime) -> None:
        self.db = db
        self.bus = bus
        self.time = time
        self.broadcaster: EmergencyBroadcaster = NoBroadcaster()
        self._announcing = threading.Lock()

    def plug(self, broadcaster: EmergencyBroadcaster) -> None:
        self.broadcaster = broadcaster

    # ------------------------------------------------------------------ reading

    def list_emergencies(self, who: Principal, commune: str, *, unacknowledged: bool = False,
                         active: bool = False) -> list[EmergencyView]:
        with reading(self.db, self.time) as work:
            access = CommuneAccess.open(work.session, who, commune, self.time.today())
            statement = select(EmergencyBroadcast).where(
                EmergencyBroadcast.commune_id == access.unit_id)
            if unacknowledged:
                statement = statement.where(col(EmergencyBroadcast.acknowledged_at).is_(None))
            if active:
                statement = statement.where(col(EmergencyBroadcast.stopped_at).is_(None))
            rows = work.session.exec(statement.order_by(
                col(EmergencyBroadcast.started_ns).desc()).limit(MAX_LISTED))
            return [emergency_view(access.unit.key, row) for row in rows]

    @staticmethod
    def between(session: Session, commune_id: int, start: dt.datetime,
                end: dt.datetime) -> list[EmergencyBroadcast]:
        """Emergencies on the air at some moment of ``[start, end)`` (for timelines)."""
        return list(session.exec(select(EmergencyBroadcast).where(
            EmergencyBroadcast.commune_id == commune_id,
            col(EmergencyBroadcast.started_at) < end,
            or_(col(EmergencyBroadcast.stopped_at).is_(None),
                col(EmergencyBroadcast.stopped_at) > start))
            .order_by(col(EmergencyBroadcast.started_ns))))

    # ------------------------------------------------------------------ changing

    def start(self, who: Principal, commune: str, *, content: str | None = None,
              title: str | None = None, villages: list[str] | None = None,
              repeat_every_s: int = 0, volume: int = 100,
              attention_tone: bool = True) -> EmergencyView:
        """Air a cached item now, on ``villages`` (None: the whole commune)."""
        if not 0 <= repeat_every_s <= 86_400:
            raise Invalid(N_("Repeat every 0 to 1440 minutes."))
        if not 0 <= volume <= 100:
            raise Invalid(N_("The volume is a percentage from 0 to 100."))
        with unit_of_work(self.db, self.bus, self.time) as work:
            access = CommuneAccess.open(work.session, who, commune, self.time.today())
            access.require_emergency()
            item = self._item(work.session, access.unit_id, content, title)
            chosen = sorted(set(villages or []))
            unknown = set(chosen) - commune_villages(work.session, access.unit_id,
                                                     self.time.today())
            if unknown:
                raise Invalid(N_("Not villages of this commune: {keys}."),
                              keys=", ".join(sorted(unknown)))
            now = self.time.now()
            previous = active_emergency(work.session, access.unit_id)
            if previous is not None:
                self._end(work, access, previous, "superseded")
            row = EmergencyBroadcast(
                id=new_emergency_id(now), commune_id=access.unit_id, content=item.sha256,
                title=item.title, villages=json.dumps(chosen), repeat_every_s=repeat_every_s,
                volume=volume, attention_tone=attention_tone,
                started_ns=self.time.clock.wall_ns(), started_at=now,
                started_by=who.username[:64])
            work.session.add(row)
            work.session.flush()
            record(work, who, "emergency.start", target=row.id, commune_id=access.unit_id,
                   detail={"content": row.content, "title": row.title, "villages": chosen,
                           "repeat_every_s": repeat_every_s, "volume": volume,
                           "attention_tone": attention_tone, "approval": "bypassed",
                           "supersedes": previous.id if previous else None})
            work.events.append(EmergencyStarted(
                commune_id=access.unit_id, commune=access.unit.key, emergency_id=row.id,
                content=row.content, villages=tuple(chosen), started_by=who.username))
            key, emergency_id = access.unit.key, row.id
        return emergency_view(key, self.announce(emergency_id))

    def stop(self, who: Principal, commune: str) -> EmergencyView:
        with unit_of_work(self.db, self.bus, self.time) as work:
            access = CommuneAccess.open(work.session, who, commune, self.time.today())
            access.require_emergency_stop()
            row = active_emergency(work.session, access.unit_id)
            if row is None:
                raise Conflict(N_("No emergency is on the air in this commune."))
            self._end(work, access, row, "stopped")
            key, emergency_id = access.unit.key, row.id
        return emergency_view(key, self.announce(emergency_id))

    def acknowledge(self, who: Principal, commune: str, emergency_id: str,
                    note: str = "") -> EmergencyView:
        with unit_of_work(self.db, self.bus, self.time) as work:
            access = CommuneAccess.open(work.session, who, commune, self.time.today())
            access.require_approval()
            row = work.session.get(EmergencyBroadcast, emergency_id)
            if row is None or row.commune_id != access.unit_id:
                raise NotFound(N_("No emergency {id} in this commune."), id=emergency_id)
            if row.acknowledged_at is not None:
                raise Conflict(N_("Emergency {id} was already acknowledged by {user}."),
                               id=emergency_id, user=row.acknowledged_by)
            row.acknowledged_at = self.time.now()
            row.acknowledged_by = who.username[:64]
            row.acknowledgement = note.strip()[:500]
            work.session.add(row)
            record(work, who, "emergency.acknowledge", target=row.id,
                   commune_id=access.unit_id, detail={"note": row.acknowledgement})
            work.events.append(EmergencyAcknowledged(
                commune_id=access.unit_id, commune=access.unit.key, emergency_id=row.id,
                acknowledged_by=who.username))
            return emergency_view(access.unit.key, row)

    # ------------------------------------------------------------------ announcing

    def announce(self, emergency_id: str) -> EmergencyBroadcast:
        """Publish the emergency's state and remember the document version (after the
        change committed). A failure is logged: the state is announced again later."""
        with self._announcing:
            with self.db.session() as session:
                row = session.get(EmergencyBroadcast, emergency_id)
            assert row is not None
            try:
                mark = self.broadcaster.announce(row)
            except Exception:
                log.exception("could not announce emergency %s", emergency_id)
                return row
            if mark is None:
                return row
            with self.db.transaction() as session:
                stored = session.get(EmergencyBroadcast, emergency_id)
                assert stored is not None
                if stored.stopped_at is None:
                    stored.start_epoch, stored.start_version = mark.epoch, mark.version
                    for older in session.exec(select(EmergencyBroadcast).where(
                            EmergencyBroadcast.commune_id == stored.commune_id,
                            EmergencyBroadcast.stop_reason == "superseded",
                            col(EmergencyBroadcast.stop_version).is_(None))):
                        older.stop_epoch, older.stop_version = mark.epoch, mark.version
                        session.add(older)
                else:
                    stored.stop_epoch, stored.stop_version = mark.epoch, mark.version
                session.add(stored)
                session.flush()
                return stored

    def reconcile(self, commune_id: int) -> bool:
        """At start: announce the newest emergency's state if it never was. Whether a
        pending state was published now."""
        with self.db.session() as session:
            latest = session.exec(select(EmergencyBroadcast).where(
                EmergencyBroadcast.commune_id == commune_id)
                .order_by(col(EmergencyBroadcast.started_ns).desc())).first()
        if latest is None or not self._pending(latest):
            return False
        return not self._pending(self.announce(latest.id))

    @staticmethod
    def _pending(row: EmergencyBroadcast) -> bool:
        return (row.start_version is None if row.stopped_at is None
                else row.stop_version is None)

    # ------------------------------------------------------------------ helpers

    def _end(self, work: Work, access: CommuneAccess, row: EmergencyBroadcast,
             reason: str) -> None:
        who = access.who
        row.stopped_at, row.stopped_by, row.stop_reason = self.time.now(), \
            who.username[:64], reason
        work.session.add(row)
        work.session.flush()
        record(work, who, "emergency.stop", target=row.id, commune_id=access.unit_id,
               detail={"reason": reason})
        work.events.append(EmergencyStopped(
            commune_id=access.unit_id, commune=access.unit.key, emergency_id=row.id,
            stopped_by=who.username, reason=reason))

    @staticmethod
    def _item(session: Session, commune_id: int, content: str | None,
              title: str | None) -> LibraryItem:
        if (content is None) == (title is None):
            raise Invalid(N_("Name the item to air: its SHA-256 or its library title."))
        if content is not None:
            sha = check_sha(content)
            row = session.exec(select(LibraryItem).where(
                LibraryItem.commune_id == commune_id, LibraryItem.sha256 == sha)).first()
            if row is None:
                raise NotFound(N_("Item {content} is not in this commune's library."),
                               content=sha)
            return row
        rows = list(session.exec(select(LibraryItem).where(
            LibraryItem.commune_id == commune_id, LibraryItem.title == title).limit(2)))
        if not rows:
            raise NotFound(N_("No library item titled {title!r} in this commune."),
                           title=title)
        if len(rows) > 1:
            raise Invalid(N_("Several library items are titled {title!r}: name the item by "
                             "its SHA-256."), title=title)
        return rows[0]
