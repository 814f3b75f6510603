"""Users and their role grants.

An administrator manages the users whose every grant lies inside the units it
administers, and may grant roles only on those units: a commune admin can neither
promote itself to the province nor disable the province's staff. Users with no grant
yet are visible to every administrator (they were just created and wait for a role).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session, col, select

from controller.audit import record
from controller.events import EventBus
from controller.i18n import LANGUAGES, N_
from controller.registry.errors import Conflict, Forbidden, Invalid, NotFound
from controller.registry.timebase import StationTime
from controller.registry.units import find_unit
from controller.registry.work import Work, reading, unit_of_work
from controller.storage.database import Database
from controller.storage.tables.registry import AdminUnit, UnitLevel
from controller.storage.tables.security import ApiToken, Role, RoleGrant, User
from protocols.topics import is_valid_id

from .authz import Permission, Principal, Scope
from .passwords import MAX_LENGTH, MIN_LENGTH, hash_password, verify_password


@dataclass(frozen=True)
class GrantView:
    unit: str
    level: UnitLevel
    role: Role
    emergency: bool
    granted_at: dt.datetime


@dataclass(frozen=True)
class UserView:
    username: str
    display_name: str
    unix_user: str | None
    language: str | None
    disabled: bool
    has_password: bool
    created_at: dt.datetime
    grants: list[GrantView]


def check_password(password: str) -> str:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise Invalid(N_("A password must have {min} to {max} characters."), min=MIN_LENGTH,
                      max=MAX_LENGTH)
    return password


def check_username(username: str) -> str:
    if not is_valid_id(username):
        raise Invalid(N_("Invalid user name {name!r}: use lower-case letters, digits, '-' "
                         "and '_'."), name=username)
    return username


def check_language(language: str | None) -> str | None:
    if language is not None and language not in LANGUAGES:
        raise Invalid(N_("Unknown language {language}: use vi or en."), language=language)
    return language


def find_user(session: Session, username: str) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or user.id is None:
        raise NotFound(N_("No user {name}."), name=username)
    return user


class UserService:
    def __init__(self, db: Database, bus: EventBus, time: StationTime) -> None:
        self.db = db
        self.bus = bus
        self.time = time

    # ------------------------------------------------------------------ reading

    def me(self, who: Principal) -> UserView:
        if who.user_id is None:
            raise NotFound(N_("No user {name}."), name=who.username)
        with reading(self.db, self.time) as work:
            user = work.session.get(User, who.user_id)
            if user is None:
                raise NotFound(N_("No user {name}."), name=who.username)
            return self._view(work.session, user)

    def list_users(self, who: Principal) -> list[UserView]:
        with reading(self.db, self.time) as work:
            scope = self._scope(work, who)
            users = list(work.session.exec(select(User).order_by(col(User.username))))
            return [self._view(work.session, u) for u in users
                    if u.id == who.user_id or self._visible(work.session, scope, u)]

    def get(self, who: Principal, username: str) -> UserView:
        with reading(self.db, self.time) as work:
            user = find_user(work.session, username)
            if user.id != who.user_id and not self._visible(work.session,
                                                             self._scope(work, who), user):
                raise NotFound(N_("No user {name}."), name=username)
            return self._view(work.session, user)

    # ------------------------------------------------------------------ changing

    def create(self, who: Principal, username: str, *, display_name: str = "",
               password: str | None = None, unix_user: str | None = None,
               language: str | None = None) -> UserView:
        check_username(username)
        check_language(language)
        if password is not None:
            check_password(password)
        with unit_of_work(self.db, self.bus, self.time) as work:
            scope = self._scope(work, who)
            if not who.system and not scope.units(Permission.MANAGE_USERS):
                raise Forbidden(N_("Only an administrator may manage users."))
            if work.session.exec(select(User).where(User.username == username)).first():
                raise Conflict(N_("A user {name} already exists."), name=username)
            self._check_unix_user(work.session, unix_user, None)
            user = User(username=username, display_name=display_name[:200],
                        password_hash=hash_password(password) if password else None,
                        unix_user=unix_user, language=language, created_at=self.time.now())
            work.session.add(user)
            work.session.flush()
            record(work, who, "user.create", target=username,
                   detail={"display_name": display_name, "unix_user": unix_user,
                           "language": language, "password": password is not None})
            return self._view(work.session, user)

    def update(self, who: Principal, username: str, *, display_name: str | None = None,
               unix_user: str | None = None, clear_unix_user: bool = False,
               language: str | None = None, disabled: bool | None = None) -> UserView:
        check_language(language)
        with unit_of_work(self.db, self.bus, self.time) as work:
            user = find_user(work.session, username)
            self_service = user.id == who.user_id and unix_user is None \
                and not clear_unix_user and disabled is None
            if not self_service:
                self._require_manageable(work, who, user)
            if disabled and user.id == who.user_id:
                raise Conflict(N_("You cannot disable your own account."))
            if display_name is not None:
                user.display_name = display_name[:200]
            if language is not None:
                user.language = language
            if clear_unix_user:
                user.unix_user = None
            elif unix_user is not None:
                self._check_unix_user(work.session, unix_user, user.id)
                user.unix_user = unix_user
            if disabled is not None:
                user.disabled = disabled
                if disabled:
                    self._revoke_tokens(work.session, user)
            work.session.add(user)
            record(work, who, "user.update", target=username,
                   detail={"display_name": display_name, "unix_user": unix_user,
                           "clear_unix_user": clear_unix_user, "language": language,
                           "disabled": disabled})
            return self._view(work.session, user)

    def set_password(self, who: Principal, username: str, password: str,
                     current_password: str | None = None) -> None:
        """Users change their own password (proving the current one if they have one);
        administrators reset the passwords of users they manage."""
        check_password(password)
        with unit_of_work(self.db, self.bus, self.time) as work:
            user = find_user(work.session, username)
            if user.id == who.user_id and not who.system:
                if user.password_hash and not verify_password(current_password or "",
                                                              user.password_hash):
                    raise Forbidden(N_("The current password is wrong."))
            else:
                self._require_manageable(work, who, user)
            user.password_hash = hash_password(password)
            self._revoke_tokens(work.session, user)
            work.session.add(user)
            record(work, who, "user.password", target=username)

    def grant(self, who: Principal, username: str, unit: str, role: Role,
              emergency: bool = False) -> UserView:
        with unit_of_work(self.db, self.bus, self.time) as work:
            user = find_user(work.session, username)
            target = find_unit(work.session, unit)
            self._scope(work, who).require(Permission.MANAGE_USERS, target.id, hide=True)
            assert target.id is not None and user.id is not None
            existing = work.session.exec(select(RoleGrant).where(
                RoleGrant.user_id == user.id, RoleGrant.unit_id == target.id,
                RoleGrant.role == role)).first()
            if existing is None:
                existing = RoleGrant(user_id=user.id, unit_id=target.id, role=role,
                                     granted_at=self.time.now())
            existing.emergency = emergency
            work.session.add(existing)
            record(work, who, "grant.create", target=username, commune_id=target.id,
                   detail={"unit": unit, "role": role.value, "emergency": emergency})
            work.session.flush()
            return self._view(work.session, user)

    def revoke_grant(self, who: Principal, username: str, unit: str, role: Role) -> UserView:
        with unit_of_work(self.db, self.bus, self.time) as work:
            user = find_user(work.session, username)
            target = find_unit(work.session, unit)
            self._scope(work, who).require(Permission.MANAGE_USERS, target.id, hide=True)
            existing = work.session.exec(select(RoleGrant).where(
                RoleGrant.user_id == user.id, RoleGrant.unit_id == target.id,
                RoleGrant.role == role)).first()
            if existing is None:
                raise NotFound(N_("{name} has no {role} role on {unit}."), name=username,
                               role=role.value, unit=unit)
            work.session.delete(existing)
            record(work, who, "grant.delete", target=username, commune_id=target.id,
                   detail={"unit": unit, "role": role.value})
            work.session.flush()
            return self._view(work.session, user)

    # ------------------------------------------------------------------ helpers

    def _scope(self, work: Work, who: Principal) -> Scope:
        return Scope(work.session, who, self.time.today())

    def _visible(self, session: Session, scope: Scope, user: User) -> bool:
        if scope.principal.system or scope.is_top_admin():
            return True
        grants = self._grants(session, user)
        if not grants:
            return bool(scope.units(Permission.MANAGE_USERS))
        readable = scope.units(Permission.READ)
        return any(g.unit_id in readable for g in grants)

    def _require_manageable(self, work: Work, who: Principal, user: User) -> None:
        scope = self._scope(work, who)
        managed = scope.units(Permission.MANAGE_USERS)
        if who.system:
            return
        if not managed or any(g.unit_id not in managed for g in self._grants(work.session,
                                                                              user)):
            raise Forbidden(N_("You may only manage users whose roles are all within the "
                               "units you administer."))

    def _check_unix_user(self, session: Session, unix_user: str | None,
                         user_id: int | None) -> None:
        if unix_user is None:
            return
        if not unix_user or len(unix_user) > 64 or not unix_user.isprintable() \
                or ":" in unix_user or "/" in unix_user:
            raise Invalid(N_("Invalid Unix user name {name!r}."), name=unix_user)
        other = session.exec(select(User).where(User.unix_user == unix_user)).first()
        if other is not None and other.id != user_id:
            raise Conflict(N_("Unix user {name} is already mapped to {user}."),
                           name=unix_user, user=other.username)

    @staticmethod
    def _grants(session: Session, user: User) -> list[RoleGrant]:
        return list(session.exec(select(RoleGrant).where(RoleGrant.user_id == user.id)))

    def _revoke_tokens(self, session: Session, user: User) -> None:
        for token in session.exec(select(ApiToken).where(ApiToken.user_id == user.id,
                                                         col(ApiToken.revoked).is_(False))):
            token.revoked = True
            session.add(token)

    def _view(self, session: Session, user: User) -> UserView:
        grants = []
        for grant in self._grants(session, user):
            unit = session.get(AdminUnit, grant.unit_id)
            if unit is None:
                continue
            grants.append(GrantView(unit=unit.key, level=unit.level, role=grant.role,
                                    emergency=grant.emergency, granted_at=grant.granted_at))
        grants.sort(key=lambda g: (g.unit, g.role.value))
        return UserView(username=user.username, display_name=user.display_name,
                        unix_user=user.unix_user, language=user.language,
                        disabled=user.disabled, has_password=user.password_hash is not None,
                        created_at=user.created_at, grants=grants)
