"""The whole schema, one module per area. Importing this package registers every table
in ``SQLModel.metadata`` (what the migrations are checked against)."""

from . import audit, fleet, library, plans, registry, security, signing, uptime

__all__ = ["audit", "fleet", "library", "plans", "registry", "security", "signing",
           "uptime"]
