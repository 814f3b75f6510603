"""Pinned content: items every agent of the commune keeps in its cache (the plan's
``pins``), typically the standard storm and flood warnings, so that an emergency can air
them from cache the moment it is started, even over a link that is down."""

from __future__ import annotations

from sqlmodel import Session, col, select

from controller.audit import record
from controller.events import EventBus
from controller.i18n import N_
from controller.registry.errors import Conflict, Invalid, NotFound
from controller.registry.timebase import StationTime
from controller.registry.work import reading, unit_of_work
from controller.security.authz import Principal
from controller.storage.database import Database
from controller.storage.tables.library import LibraryItem
from controller.storage.tables.schedule import ContentPin

from .access import CommuneAccess
from .views import PinView

MAX_PINS = 512  # Plan.pins on the wire


def library_title(session: Session, commune_id: int, content: str) -> str | None:
    return session.exec(select(LibraryItem.title).where(
        LibraryItem.commune_id == commune_id, LibraryItem.sha256 == content)).first()


def check_sha(content: str) -> str:
    value = content.strip().lower()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise Invalid(N_("{value!r} is not a SHA-256 (64 hexadecimal digits)."), value=content)
    return value


class PinService:
    def __init__(self, db: Database, bus: EventBus, time: StationTime) -> None:
        self.db = db
        self.bus = bus
        self.time = time

    def list_pins(self, who: Principal, commune: str) -> list[PinView]:
        with reading(self.db, self.time) as work:
            access = CommuneAccess.open(work.session, who, commune, self.time.today())
            rows = work.session.exec(select(ContentPin).where(
                ContentPin.commune_id == access.unit_id).order_by(col(ContentPin.pinned_at)))
            return [self._view(work.session, access, row) for row in rows]

    def pin(self, who: Principal, commune: str, content: str, note: str = "") -> PinView:
        content = check_sha(content)
        with unit_of_work(self.db, self.bus, self.time) as work:
            access = CommuneAccess.open(work.session, who, commune, self.time.today())
            access.require_programming()
            if library_title(work.session, access.unit_id, content) is None:
                raise NotFound(N_("Item {content} is not in this commune's library."),
                               content=content)
            row = work.session.get(ContentPin, (access.unit_id, content))
            if row is None:
                count = len(work.session.exec(select(ContentPin.content).where(
                    ContentPin.commune_id == access.unit_id)).all())
                if count >= MAX_PINS:
                    raise Conflict(N_("At most {count} items can be pinned."), count=MAX_PINS)
                row = ContentPin(commune_id=access.unit_id, content=content,
                                 pinned_by=who.username[:64], pinned_at=self.time.now())
            row.note = note.strip()[:200]
            work.session.add(row)
            work.session.flush()
            record(work, who, "pin.add", target=content, commune_id=access.unit_id,
                   detail={"note": row.note})
            return self._view(work.session, access, row)

    def unpin(self, who: Principal, commune: str, content: str) -> None:
        content = check_sha(content)
        with unit_of_work(self.db, self.bus, self.time) as work:
            access = CommuneAccess.open(work.session, who, commune, self.time.today())
            access.require_programming()
            row = work.session.get(ContentPin, (access.unit_id, content))
            if row is None:
                raise NotFound(N_("Item {content} is not pinned."), content=content)
            work.session.delete(row)
            record(work, who, "pin.remove", target=content, commune_id=access.unit_id)

    @staticmethod
    def _view(session: Session, access: CommuneAccess, row: ContentPin) -> PinView:
        return PinView(commune=access.unit.key, content=row.content,
                       title=library_title(session, access.unit_id, row.content),
                       note=row.note, pinned_by=row.pinned_by, pinned_at=row.pinned_at)
