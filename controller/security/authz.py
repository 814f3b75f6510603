"""Who may do what, where: roles granted on a unit cover every unit below it.

Services call :meth:`Scope.require` themselves (the API only maps the errors), so every
front end — API, CLI through the API, a future one — gets the same rules. Grants are read
fresh for every operation: taking a role away takes effect on the next request.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session, select

from controller.i18n import N_
from controller.registry.errors import Forbidden, NotFound
from controller.registry.graph import UnitGraph
from controller.storage.tables.security import Role, RoleGrant


class Permission(StrEnum):
    READ = "read"
    MANAGE_UNITS = "manage_units"  # create, rename, move, merge administrative units
    MANAGE_DEVICES = "manage_devices"  # stations, clusters, agents' asset data
    ENROL = "enrol"  # issue enrolment codes, revoke agents
    MANAGE_USERS = "manage_users"  # users and role grants
    MANAGE_KEYS = "manage_keys"  # signing key rotation
    BACKUP = "backup"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.OPERATOR: frozenset({Permission.READ}),
    Role.APPROVER: frozenset({Permission.READ}),
    Role.TECHNICIAN: frozenset({Permission.READ, Permission.MANAGE_DEVICES, Permission.ENROL}),
    Role.ADMIN: frozenset(Permission),
}


@dataclass(frozen=True)
class Principal:
    """Who is acting: a loaxa user, or the system itself (bootstrap, restore, claims)."""

    user_id: int | None
    username: str
    language: str | None = None
    source: str = "api"
    system: bool = False

    @classmethod
    def system_actor(cls, name: str = "system", source: str = "cli") -> Principal:
        return cls(user_id=None, username=name, source=source, system=True)


class Scope:
    """A principal's reach on one date, computed from its grants and the unit graph."""

    def __init__(self, session: Session, principal: Principal, on: dt.date) -> None:
        self.principal = principal
        self.graph = UnitGraph.load(session, on)
        self.grants: list[RoleGrant] = [] if principal.user_id is None else list(
            session.exec(select(RoleGrant).where(RoleGrant.user_id == principal.user_id)))
        self._cache: dict[Permission, set[int]] = {}

    def units(self, permission: Permission) -> set[int]:
        """Every unit where the principal holds ``permission``."""
        if self.principal.system:
            return set(self.graph.levels)
        if permission not in self._cache:
            roots = {g.unit_id for g in self.grants if permission in ROLE_PERMISSIONS[g.role]}
            self._cache[permission] = self.graph.below(roots)
        return self._cache[permission]

    def allows(self, permission: Permission, unit_id: int | None) -> bool:
        if self.principal.system:
            return True
        if unit_id is None:
            return self.is_top_admin()
        return unit_id in self.units(permission)

    def require(self, permission: Permission, unit_id: int | None, *,
                hide: bool = False) -> None:
        """Raise unless allowed. ``hide`` answers "not found" when the principal may not
        even read the unit, so ids of other communes' objects are not confirmed."""
        if self.allows(permission, unit_id):
            return
        if hide and not self.allows(Permission.READ, unit_id):
            raise NotFound(N_("Not found."))
        raise Forbidden(N_("You do not have permission for this in that unit."))

    def is_top_admin(self) -> bool:
        """Admin over every root of the tree: may create new roots and see actions that
        belong to no unit (user accounts)."""
        if self.principal.system:
            return True
        roots = self.graph.roots()
        return bool(roots) and roots <= self.units(Permission.MANAGE_USERS)

    def emergency(self, unit_id: int) -> bool:
        """May air an emergency without approval in ``unit_id``."""
        if self.principal.system:
            return True
        roots = {g.unit_id for g in self.grants if g.emergency}
        return unit_id in self.graph.below(roots)
