"""Who may change a commune's library: its operators and administrators.

Reading follows the station-wide rule (``Permission.READ``: every role, reviewers
included). Changing the library (import, rename, delete) is the operator's daily work
(``Role.OPERATOR`` is documented as running "library, programmes"), and an admin may do
anything in scope; viewers, approvers and technicians may not. ``controller.security.authz``
has no library permission yet, so the rule is computed here from the same grants and
unit graph; when it gains one, ``managed_units`` becomes ``scope.units(...)``.
"""

from __future__ import annotations

from controller.i18n import N_
from controller.registry.errors import Forbidden
from controller.security.authz import Permission, Scope
from controller.storage.tables.security import Role

LIBRARY_ROLES = frozenset({Role.OPERATOR, Role.ADMIN})


def managed_units(scope: Scope) -> set[int]:
    """Every unit whose library the principal may change (grants cover units below)."""
    if scope.principal.system:
        return set(scope.graph.levels)
    roots = {grant.unit_id for grant in scope.grants if grant.role in LIBRARY_ROLES}
    return scope.graph.below(roots)


def require_manage(scope: Scope, unit_id: int) -> None:
    """Raise unless allowed; "not found" for a commune the principal may not even read,
    so other communes' existence (and their items) is not confirmed."""
    if unit_id in managed_units(scope):
        return
    scope.require(Permission.READ, unit_id, hide=True)
    raise Forbidden(N_("Only the commune's operators and administrators may change its "
                       "library."))


def require_read(scope: Scope, unit_id: int) -> None:
    scope.require(Permission.READ, unit_id, hide=True)
