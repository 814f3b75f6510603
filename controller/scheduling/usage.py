"""Answers the library's "is this item still needed?" (``controller.library.usage``) for
what has no planned slot yet: programmes waiting for approval or approved, pinned
content, and the emergency on the air. Deleting any of those would leave an agent asking
for audio that no longer exists."""

from __future__ import annotations

import msgspec
from sqlmodel import col, select

from controller.storage.database import Database
from controller.storage.tables.registry import AdminUnit
from controller.storage.tables.schedule import (
    ContentPin,
    EmergencyBroadcast,
    ProgrammeStatus,
)

from .store import programme_of, revisions_with


class ScheduleUsage:
    def __init__(self, db: Database) -> None:
        self.db = db

    def users_of(self, commune: str, sha256: str) -> list[str]:
        content = bytes.fromhex(sha256) if len(sha256) == 64 else b""
        users: list[str] = []
        with self.db.session() as session:
            unit_id = session.exec(select(AdminUnit.id).where(AdminUnit.key == commune)).first()
            if unit_id is None:
                return []
            for row in revisions_with(session, unit_id, (ProgrammeStatus.APPROVED,
                                                         ProgrammeStatus.DRAFT)):
                try:
                    items = programme_of(row).items
                except (msgspec.ValidationError, msgspec.DecodeError, ValueError):
                    continue
                if any(item.content == content for item in items) and row.key not in users:
                    users.append(row.key)
            if session.get(ContentPin, (unit_id, sha256)) is not None:
                users.append("pin")
            users.extend(session.exec(select(EmergencyBroadcast.id).where(
                EmergencyBroadcast.commune_id == unit_id, EmergencyBroadcast.content == sha256,
                col(EmergencyBroadcast.stopped_at).is_(None))))
        return users

