"""When will an item be in an agent's cache? The question behind "cannot reach the agent
in time" conflicts, asked when programming.

The content service knows best (its transfer queue, the egress cap, whether the agent is
online) and will plug its own :class:`ReadinessEstimator` in. Until then
:class:`LibraryReadiness` answers from the library alone: content the commune's library
holds can be sent at once ("ready now"); content it does not hold has no estimate, which
``schedules.check_programme`` reports as a conflict for every airing.
"""

from __future__ import annotations

from typing import Protocol

from sqlmodel import select

from controller.storage.database import Database
from controller.storage.tables.library import LibraryItem
from schedules import ReadyAt


class ReadinessEstimator(Protocol):
    def estimate(self, commune_id: int, now_ns: int) -> ReadyAt:
        """A ``(agent_id, sha256) -> UTC ns | None`` function for one conflict check."""
        ...


class LibraryReadiness:
    def __init__(self, db: Database) -> None:
        self.db = db

    def estimate(self, commune_id: int, now_ns: int) -> ReadyAt:
        with self.db.session() as session:
            held = set(session.exec(select(LibraryItem.sha256).where(
                LibraryItem.commune_id == commune_id)))

        def ready_at(_agent_id: str, content: bytes) -> int | None:
            return now_ns if content.hex() in held else None

        return ready_at
