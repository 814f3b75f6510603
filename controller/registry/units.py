"""Administrative units as an effective-dated tree.

A unit's identity (key, level) never changes; its name and parent do, each change a new
``admin_unit_version`` row from a validity date. Reports about a period read the tree
valid then, so the 2025 reorganisation (districts abolished, communes merged) never
rewrites history. Changes are dated on or after the unit's latest version: the past is
corrected only on the day a version starts (same date = correction in place).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session, col, or_, select

from controller.audit import record
from controller.events import EventBus
from controller.i18n import N_
from controller.security.authz import Permission, Principal, Scope
from controller.storage.database import Database
from controller.storage.tables.registry import AdminUnit, AdminUnitVersion, UnitLevel
from controller.storage.tables.security import Role, RoleGrant
from protocols.topics import is_valid_id

from .errors import Conflict, Forbidden, Invalid, NotFound
from .timebase import StationTime
from .work import Work, reading, unit_of_work

# Which level may sit under which (None: a root). A commune may be a root: a station's
# controller starts with its own commune and learns its province later.
ALLOWED_PARENTS: dict[UnitLevel, set[UnitLevel | None]] = {
    UnitLevel.PROVINCE: {None},
    UnitLevel.DISTRICT: {UnitLevel.PROVINCE},
    UnitLevel.COMMUNE: {None, UnitLevel.PROVINCE, UnitLevel.DISTRICT},
    UnitLevel.VILLAGE: {UnitLevel.COMMUNE},
}


@dataclass(frozen=True)
class UnitView:
    key: str
    level: UnitLevel
    name: str
    parent: str | None
    code: str | None
    valid_from: dt.date
    valid_to: dt.date | None
    merged_into: str | None


def find_unit(session: Session, key: str) -> AdminUnit:
    unit = session.exec(select(AdminUnit).where(AdminUnit.key == key)).first()
    if unit is None or unit.id is None:
        raise NotFound(N_("No unit with key {key}."), key=key)
    return unit


def versions_of(session: Session, unit_id: int) -> list[AdminUnitVersion]:
    return list(session.exec(select(AdminUnitVersion).where(
        AdminUnitVersion.unit_id == unit_id).order_by(col(AdminUnitVersion.valid_from))))


def version_on(session: Session, unit_id: int, on: dt.date) -> AdminUnitVersion | None:
    return session.exec(select(AdminUnitVersion).where(
        AdminUnitVersion.unit_id == unit_id, col(AdminUnitVersion.valid_from) <= on,
        or_(col(AdminUnitVersion.valid_to).is_(None), col(AdminUnitVersion.valid_to) > on),
    )).first()


def check_key(key: str) -> str:
    if not is_valid_id(key):
        raise Invalid(N_("Invalid key {key!r}: use lower-case letters, digits, '-' and '_' "
                         "(at most 64)."), key=key)
    return key


def check_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > 200:
        raise Invalid(N_("A name must have 1 to 200 characters."))
    return cleaned


class UnitService:
    def __init__(self, db: Database, bus: EventBus, time: StationTime) -> None:
        self.db = db
        self.bus = bus
        self.time = time

    # ------------------------------------------------------------------ reading

    def tree(self, who: Principal, on: dt.date | None = None) -> list[UnitView]:
        """Units valid on ``on`` (default today) that ``who`` may read, parents first."""
        day = on or self.time.today()
        with reading(self.db, self.time) as work:
            scope = Scope(work.session, who, self.time.today())
            visible = scope.units(Permission.READ)
            rows = work.session.exec(select(AdminUnitVersion, AdminUnit).join(
                AdminUnit, col(AdminUnit.id) == AdminUnitVersion.unit_id).where(
                col(AdminUnitVersion.valid_from) <= day,
                or_(col(AdminUnitVersion.valid_to).is_(None),
                    col(AdminUnitVersion.valid_to) > day)))
            pairs = [(v, u) for v, u in rows if u.id in visible]
            keys = scope.graph.keys
        views = {u.id: self._view(u, v, keys) for v, u in pairs}
        children: dict[int | None, list[int]] = {}
        for version, unit in pairs:
            parent = version.parent_id if version.parent_id in views else None
            children.setdefault(parent, []).append(unit.id or 0)
        ordered: list[UnitView] = []

        def walk(parent: int | None) -> None:
            for child in sorted(children.get(parent, []), key=lambda i: views[i].name):
                ordered.append(views[child])
                walk(child)

        walk(None)
        return ordered

    def get(self, who: Principal, key: str, on: dt.date | None = None) -> UnitView:
        """The unit as of ``on`` (default today), or its last version if it has ended."""
        with reading(self.db, self.time) as work:
            unit, scope = self._readable(work, who, key)
            assert unit.id is not None
            version = version_on(work.session, unit.id, on or self.time.today()) \
                or versions_of(work.session, unit.id)[-1]
            return self._view(unit, version, scope.graph.keys)

    def history(self, who: Principal, key: str) -> list[UnitView]:
        with reading(self.db, self.time) as work:
            unit, scope = self._readable(work, who, key)
            assert unit.id is not None
            return [self._view(unit, v, scope.graph.keys)
                    for v in versions_of(work.session, unit.id)]

    # ------------------------------------------------------------------ changing

    def create(self, who: Principal, key: str, level: UnitLevel, name: str,
               parent: str | None = None, code: str | None = None,
               valid_from: dt.date | None = None) -> UnitView:
        check_key(key)
        name = check_name(name)
        start = valid_from or self.time.today()
        with unit_of_work(self.db, self.bus, self.time) as work:
            scope = Scope(work.session, who, self.time.today())
            parent_unit = find_unit(work.session, parent) if parent is not None else None
            self._check_parent(work.session, level, parent_unit, start)
            if parent_unit is None:
                if not scope.is_top_admin() and scope.graph.roots():
                    raise Forbidden(N_("Only an administrator of the whole tree may create "
                                       "a top-level unit."))
            else:
                scope.require(Permission.MANAGE_UNITS, parent_unit.id)
            if work.session.exec(select(AdminUnit).where(AdminUnit.key == key)).first():
                raise Conflict(N_("A unit with key {key} already exists."), key=key)
            unit = AdminUnit(key=key, level=level, code=code, created_at=self.time.now())
            work.session.add(unit)
            work.session.flush()
            assert unit.id is not None
            version = AdminUnitVersion(unit_id=unit.id, name=name, valid_from=start,
                                       parent_id=parent_unit.id if parent_unit else None)
            work.session.add(version)
            record(work, who, "unit.create", target=key, commune_id=unit.id,
                   detail={"level": level.value, "name": name, "parent": parent,
                           "valid_from": start.isoformat()})
            if parent_unit is None and who.user_id is not None:
                # A new root is outside everyone's grants: its creator administers it.
                work.session.add(RoleGrant(user_id=who.user_id, unit_id=unit.id,
                                           role=Role.ADMIN, granted_at=self.time.now()))
                record(work, who, "grant.create", target=who.username, commune_id=unit.id,
                       detail={"unit": key, "role": Role.ADMIN.value, "automatic": True})
            return self._view(unit, version, {**scope.graph.keys, unit.id: key})

    def change(self, who: Principal, key: str, *, name: str | None = None,
               parent: str | None = None, valid_from: dt.date | None = None) -> UnitView:
        """Rename and/or re-parent from ``valid_from`` (default today)."""
        start = valid_from or self.time.today()
        with unit_of_work(self.db, self.bus, self.time) as work:
            scope = Scope(work.session, who, self.time.today())
            unit = find_unit(work.session, key)
            assert unit.id is not None
            scope.require(Permission.MANAGE_UNITS, unit.id, hide=True)
            latest = versions_of(work.session, unit.id)[-1]
            new_name = check_name(name) if name is not None else latest.name
            new_parent_id = latest.parent_id
            if parent is not None:
                parent_unit = find_unit(work.session, parent)
                self._check_parent(work.session, unit.level, parent_unit, start)
                scope.require(Permission.MANAGE_UNITS, parent_unit.id)
                if parent_unit.id in scope.graph.below({unit.id}):
                    raise Invalid(N_("A unit cannot be moved under itself or its own "
                                     "subunits."))
                new_parent_id = parent_unit.id
            version = self._new_version(work.session, unit, start, new_name, new_parent_id)
            record(work, who, "unit.change", target=key, commune_id=unit.id,
                   detail={"name": name, "parent": parent, "valid_from": start.isoformat()})
            return self._view(unit, version, scope.graph.keys)

    def merge(self, who: Principal, sources: list[str], into: str,
              valid_from: dt.date | None = None) -> UnitView:
        """Merge communes into one: from ``valid_from`` the sources end, their villages
        move under ``into``, and each source records what it was merged into."""
        start = valid_from or self.time.today()
        if not sources:
            raise Invalid(N_("Name at least one commune to merge."))
        with unit_of_work(self.db, self.bus, self.time) as work:
            scope = Scope(work.session, who, self.time.today())
            target = find_unit(work.session, into)
            assert target.id is not None
            scope.require(Permission.MANAGE_UNITS, target.id, hide=True)
            self._require_commune(work.session, target, start)
            moved: list[str] = []
            for source_key in dict.fromkeys(sources):
                source = find_unit(work.session, source_key)
                assert source.id is not None
                if source.id == target.id:
                    raise Invalid(N_("A commune cannot be merged into itself."))
                scope.require(Permission.MANAGE_UNITS, source.id, hide=True)
                self._require_commune(work.session, source, start)
                for village in self._children_on(work.session, source.id, start):
                    assert village.unit_id is not None
                    child = work.session.get(AdminUnit, village.unit_id)
                    assert child is not None
                    self._new_version(work.session, child, start, village.name, target.id)
                    moved.append(child.key)
                latest = versions_of(work.session, source.id)[-1]
                if latest.valid_from >= start:
                    raise Conflict(N_("{key} changes on or after {date}; merge it later."),
                                   key=source.key, date=latest.valid_from.isoformat())
                latest.valid_to = start
                source.merged_into_id = target.id
                work.session.add_all([latest, source])
            record(work, who, "unit.merge", target=into, commune_id=target.id,
                   detail={"sources": list(dict.fromkeys(sources)), "villages": moved,
                           "valid_from": start.isoformat()})
            version = version_on(work.session, target.id, start) \
                or versions_of(work.session, target.id)[-1]
            return self._view(target, version, scope.graph.keys)

    # ------------------------------------------------------------------ helpers

    def _readable(self, work: Work, who: Principal, key: str) -> tuple[AdminUnit, Scope]:
        scope = Scope(work.session, who, self.time.today())
        unit = find_unit(work.session, key)
        scope.require(Permission.READ, unit.id, hide=True)
        return unit, scope

    def _check_parent(self, session: Session, level: UnitLevel, parent: AdminUnit | None,
                      on: dt.date) -> None:
        if (parent.level if parent else None) not in ALLOWED_PARENTS[level]:
            raise Invalid(N_("A {level} cannot be placed under a {parent}."),
                          level=level.value, parent=parent.level.value if parent else "-")
        if parent is not None:
            assert parent.id is not None
            if parent.merged_into_id is not None or version_on(session, parent.id, on) is None:
                raise Conflict(N_("{key} does not exist on {date}."), key=parent.key,
                               date=on.isoformat())

    def _require_commune(self, session: Session, unit: AdminUnit, on: dt.date) -> None:
        assert unit.id is not None
        if unit.level is not UnitLevel.COMMUNE:
            raise Invalid(N_("{key} is not a commune."), key=unit.key)
        if unit.merged_into_id is not None or version_on(session, unit.id, on) is None:
            raise Conflict(N_("{key} does not exist on {date}."), key=unit.key,
                           date=on.isoformat())

    def _children_on(self, session: Session, unit_id: int,
                     on: dt.date) -> list[AdminUnitVersion]:
        return list(session.exec(select(AdminUnitVersion).where(
            AdminUnitVersion.parent_id == unit_id, col(AdminUnitVersion.valid_from) <= on,
            or_(col(AdminUnitVersion.valid_to).is_(None),
                col(AdminUnitVersion.valid_to) > on))))

    def _new_version(self, session: Session, unit: AdminUnit, start: dt.date, name: str,
                     parent_id: int | None) -> AdminUnitVersion:
        assert unit.id is not None
        if unit.merged_into_id is not None:
            raise Conflict(N_("{key} has been merged into another unit."), key=unit.key)
        latest = versions_of(session, unit.id)[-1]
        if start < latest.valid_from:
            raise Conflict(N_("{key} already changes on {date}; date this change on or "
                              "after it."), key=unit.key, date=latest.valid_from.isoformat())
        if latest.valid_to is not None and latest.valid_to <= start:
            raise Conflict(N_("{key} does not exist on {date}."), key=unit.key,
                           date=start.isoformat())
        if (name, parent_id) == (latest.name, latest.parent_id):
            return latest
        if start == latest.valid_from:
            latest.name, latest.parent_id = name, parent_id
            session.add(latest)
            return latest
        version = AdminUnitVersion(unit_id=unit.id, name=name, parent_id=parent_id,
                                   valid_from=start, valid_to=latest.valid_to)
        latest.valid_to = start
        session.add_all([latest, version])
        session.flush()
        return version

    @staticmethod
    def _view(unit: AdminUnit, version: AdminUnitVersion, keys: dict[int, str]) -> UnitView:
        return UnitView(key=unit.key, level=unit.level, name=version.name,
                        parent=keys.get(version.parent_id) if version.parent_id else None,
                        code=unit.code, valid_from=version.valid_from,
                        valid_to=version.valid_to,
                        merged_into=keys.get(unit.merged_into_id)
                        if unit.merged_into_id else None)
