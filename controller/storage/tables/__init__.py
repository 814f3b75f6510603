"""The whole schema, one module per area. Importing this package registers every table
in ``SQLModel.metadata`` (what the migrations are checked against)."""

from . import (
    airings,
    audit,
    collect,
    cursors,
    fleet,
    library,
    plans,
    registry,
    reports,
    schedule,
    security,
    signing,
    uptime,
)

__all__ = ["airings", "audit", "collect", "cursors", "fleet", "library", "plans", "registry",
           "reports", "schedule", "security", "signing", "uptime"]
