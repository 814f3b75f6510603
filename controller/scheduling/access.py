"""Who may programme, approve, air an emergency and acknowledge it, in a commune.

The station's permission table (``controller.security.authz``) has no scheduling
permissions yet, so the rules are stated here by role, on the same grants and unit graph
(a grant on a province covers its communes):

* programming (sessions, drafts, pins, withdrawing): operator, approver, admin;
* approving a programme and acknowledging an emergency: the approver role only
  (Circular 39's approval is an editorial act; an admin who must approve grants
  themselves the role, which the audit log then shows);
* starting an emergency: a grant carrying the emergency permission (any role);
  stopping one: the emergency permission or the approver role.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session

from controller.i18n import N_
from controller.registry.errors import Conflict, Forbidden
from controller.registry.stations import find_commune
from controller.security.authz import Permission, Principal, Scope
from controller.storage.tables.registry import AdminUnit
from controller.storage.tables.security import Role

PROGRAMMING_ROLES = frozenset({Role.OPERATOR, Role.APPROVER, Role.ADMIN})
APPROVING_ROLES = frozenset({Role.APPROVER})


def holds_role(scope: Scope, roles: frozenset[Role], unit_id: int) -> bool:
    if scope.principal.system:
        return True
    roots = {grant.unit_id for grant in scope.grants if grant.role in roles}
    return unit_id in scope.graph.below(roots)


@dataclass
class CommuneAccess:
    """A principal's rights in one commune, for one operation."""

    unit: AdminUnit
    scope: Scope

    @classmethod
    def open(cls, session: Session, who: Principal, commune: str,
             today: dt.date) -> CommuneAccess:
        """The commune (which must exist and be readable, else "not found")."""
        unit = find_commune(session, commune)
        scope = Scope(session, who, today)
        scope.require(Permission.READ, unit.id, hide=True)
        return cls(unit, scope)

    @property
    def unit_id(self) -> int:
        assert self.unit.id is not None
        return self.unit.id

    @property
    def who(self) -> Principal:
        return self.scope.principal

    def require_programming(self) -> None:
        if not holds_role(self.scope, PROGRAMMING_ROLES, self.unit_id):
            raise Forbidden(N_("Only an operator or an approver of this commune may "
                               "change its schedule."))
        if self.unit.merged_into_id is not None:
            raise Conflict(N_("{key} has been merged into another unit."), key=self.unit.key)

    def can_approve(self) -> bool:
        return holds_role(self.scope, APPROVING_ROLES, self.unit_id)

    def require_approval(self) -> None:
        if not self.can_approve():
            raise Forbidden(N_("Only an approver of this commune may approve programmes "
                               "or acknowledge emergencies."))

    def require_emergency(self) -> None:
        if not self.scope.emergency(self.unit_id):
            raise Forbidden(N_("Only users with the emergency permission may start an "
                               "emergency broadcast."))

    def require_emergency_stop(self) -> None:
        if not (self.scope.emergency(self.unit_id) or self.can_approve()):
            raise Forbidden(N_("Only users with the emergency permission or an approver "
                               "may stop an emergency broadcast."))
