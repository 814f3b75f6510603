"""Is a library item still needed? Deleting one that a programme will air would leave
agents asking the content service for audio that no longer exists (and the slot silent).

The library does not know about programmes: scheduling does. So the library asks
through a small protocol, ``ContentUsage``, and the station plugs in whatever answers
it. ``UsageChain`` holds several (the station starts with ``PlannedSlotUsage``; the
scheduler adds its own for programmes and emergencies that have no planned slot yet),
and an item is in use when any of them says so.
"""

from __future__ import annotations

import threading
from typing import Protocol, runtime_checkable

from sqlmodel import col, select

from controller.storage.database import Database
from controller.storage.tables.plans import PlannedSlot
from controller.storage.tables.registry import AdminUnit
from protocols.clock import Clock


@runtime_checkable
class ContentUsage(Protocol):
    def users_of(self, commune: str, sha256: str) -> list[str]:
        """Names of the programmes / emergencies of ``commune`` (its unit key) that still
        need the content ``sha256`` (hex); empty when it may be deleted."""
        ...


class NoUsage:
    """Checks nothing: nothing in this station schedules content yet."""

    def users_of(self, commune: str, sha256: str) -> list[str]:
        return []


class PlannedSlotUsage:
    """Programmes with a planned slot for the content whose window has not ended yet.

    ``planned_slot`` is what the controller has told agents to air (one row per agent
    and slot; withdrawn slots keep their row with ``withdrawn_at``), so a live row means
    an agent will ask for this content.
    """

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def users_of(self, commune: str, sha256: str) -> list[str]:
        now_ns = self.clock.wall_ns()
        with self.db.session() as session:
            rows = session.exec(
                select(PlannedSlot.programme_id).distinct()
                .join(AdminUnit, col(AdminUnit.id) == col(PlannedSlot.commune_id))
                .where(AdminUnit.key == commune, PlannedSlot.content == sha256,
                       col(PlannedSlot.withdrawn_at).is_(None),
                       col(PlannedSlot.window_end_ns) > now_ns))
            return sorted(rows)


class UsageChain:
    """Every usage check the station knows; ``add`` plugs in another (thread-safe)."""

    def __init__(self, *checks: ContentUsage) -> None:
        self._lock = threading.Lock()
        self._checks: list[ContentUsage] = list(checks)

    def add(self, check: ContentUsage) -> None:
        with self._lock:
            self._checks.append(check)

    def users_of(self, commune: str, sha256: str) -> list[str]:
        with self._lock:
            checks = list(self._checks)
        found: list[str] = []
        for check in checks:
            for user in check.users_of(commune, sha256):
                if user not in found:
                    found.append(user)
        return found
