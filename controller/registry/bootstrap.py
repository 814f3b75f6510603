"""First start and lock-out recovery, done directly on the database by someone with
local file access (``loaxa admin ...``; the controller at start for its own commune).

There is no API call for these on purpose: before the first administrator exists nobody
can be authenticated, and recovering from a lost admin password must not depend on the
admin being able to log in.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select

from controller.audit import record
from controller.events import EventBus
from controller.security.authz import Principal
from controller.security.passwords import hash_password
from controller.security.users import UserService, check_password, check_username
from controller.storage.database import Database
from controller.storage.tables.registry import AdminUnit, AdminUnitVersion, UnitLevel
from controller.storage.tables.security import Role, RoleGrant, User

from .graph import UnitGraph
from .timebase import StationTime
from .units import check_key, check_name
from .work import unit_of_work

SYSTEM = Principal.system_actor("bootstrap", source="cli")


def ensure_commune(db: Database, bus: EventBus, time: StationTime, key: str,
                   name: str) -> bool:
    """Create the station's commune as a root unit if it is not in the registry yet."""
    check_key(key)
    with unit_of_work(db, bus, time) as work:
        if work.session.exec(select(AdminUnit).where(AdminUnit.key == key)).first():
            return False
        unit = AdminUnit(key=key, level=UnitLevel.COMMUNE, created_at=time.now())
        work.session.add(unit)
        work.session.flush()
        assert unit.id is not None
        work.session.add(AdminUnitVersion(unit_id=unit.id, name=check_name(name),
                                          valid_from=time.today()))
        record(work, SYSTEM, "unit.create", target=key, commune_id=unit.id,
               detail={"level": UnitLevel.COMMUNE.value, "name": name, "bootstrap": True})
        return True


@dataclass(frozen=True)
class InitResult:
    username: str
    created_user: bool
    granted: list[str]  # unit keys where the ADMIN role was added


def init_admin(db: Database, bus: EventBus, time: StationTime, username: str, *,
               unix_user: str | None = None, password: str | None = None,
               display_name: str = "") -> InitResult:
    """Create (or find) an administrator and make it admin of every root unit.

    Idempotent, and also the way back in after a lock-out: run it again for an existing
    user and it regains the admin role over the whole tree.
    """
    check_username(username)
    if password is not None:
        check_password(password)
    with unit_of_work(db, bus, time) as work:
        user = work.session.exec(select(User).where(User.username == username)).first()
        created = user is None
        if user is None:
            user = User(username=username, display_name=display_name, unix_user=unix_user,
                        password_hash=hash_password(password) if password else None,
                        created_at=time.now())
            work.session.add(user)
            work.session.flush()
            record(work, SYSTEM, "user.create", target=username,
                   detail={"unix_user": unix_user, "bootstrap": True})
        else:
            if unix_user is not None:
                user.unix_user = unix_user
            if password is not None:
                user.password_hash = hash_password(password)
            user.disabled = False
            work.session.add(user)
            record(work, SYSTEM, "user.update", target=username,
                   detail={"unix_user": unix_user, "password": password is not None,
                           "bootstrap": True})
        assert user.id is not None
        graph = UnitGraph.load(work.session, time.today())
        granted = []
        for root in sorted(graph.roots()):
            exists = work.session.exec(select(RoleGrant).where(
                RoleGrant.user_id == user.id, RoleGrant.unit_id == root,
                RoleGrant.role == Role.ADMIN)).first()
            if exists is None:
                work.session.add(RoleGrant(user_id=user.id, unit_id=root, role=Role.ADMIN,
                                           emergency=True, granted_at=time.now()))
                record(work, SYSTEM, "grant.create", target=username, commune_id=root,
                       detail={"role": Role.ADMIN.value, "bootstrap": True})
                granted.append(graph.keys[root])
        return InitResult(username, created, granted)


def reset_password(db: Database, bus: EventBus, time: StationTime, username: str,
                   password: str) -> None:
    """Set a user's password (and re-enable the account) from the command line."""
    UserService(db, bus, time).set_password(SYSTEM, username, password)
    with unit_of_work(db, bus, time) as work:
        user = work.session.exec(select(User).where(User.username == username)).first()
        if user is not None and user.disabled:
            user.disabled = False
            work.session.add(user)
            record(work, SYSTEM, "user.update", target=username,
                   detail={"disabled": False, "bootstrap": True})
