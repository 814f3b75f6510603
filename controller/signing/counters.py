"""Monotonic counters behind command counters and document versions.

An increment is one atomic ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` committed
before the number is used, so two threads never get the same number and a crash never
hands out a number twice. With the signing epoch in front, ``(epoch, n)`` keeps growing
even across a restore from an older backup.
"""

from __future__ import annotations

from sqlalchemy import Connection, Executable
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from controller.registry.stations import find_commune
from controller.storage.database import Database
from controller.storage.tables.signing import Counter, SigningEpoch
from protocols.messages import DocVersion
from protocols.topics import DocKind, check_id


def commune_id_of(session: Session, commune: str) -> int:
    unit = find_commune(session, commune)
    assert unit.id is not None
    return unit.id


def _upsert(dialect: str, commune_id: int, name: str) -> Executable:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = Counter.__table__  # type: ignore[attr-defined]
    statement = insert(table).values(commune_id=commune_id, name=name, value=1)
    return statement.on_conflict_do_update(
        index_elements=["commune_id", "name"],
        set_={"value": table.c.value + 1}).returning(table.c.value)


def increment(connection: Connection | Session, commune_id: int, name: str) -> int:
    """The next value of a counter, inside the caller's transaction."""
    bind = connection.get_bind() if isinstance(connection, Session) else connection
    value = connection.execute(_upsert(bind.dialect.name, commune_id, name)).scalar_one()
    return int(value)


def current_epoch(session: Session, commune_id: int) -> int:
    row = session.exec(select(SigningEpoch).where(SigningEpoch.commune_id == commune_id)).first()
    return row.epoch if row is not None else 1


class Counters:
    """Numbers for the fleet link: ask for one right before sealing the message."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def next(self, commune: str, name: str) -> tuple[int, int]:
        """``(epoch, n)`` for counter ``name`` of ``commune``, committed before return."""
        with self.db.transaction() as session:
            commune_id = commune_id_of(session, commune)
            return current_epoch(session, commune_id), increment(session, commune_id, name)

    def next_command_counter(self, commune: str, agent_id: str) -> tuple[int, int]:
        """The signing epoch and the counter for the next command to ``agent_id``."""
        return self.next(commune, f"cmd/{check_id(agent_id, 'agent id')}")

    def next_document_version(self, commune: str, kind: DocKind,
                              agent_id: str | None = None) -> DocVersion:
        """The version for the next ``kind`` document (per agent when ``agent_id``). The
        trust bundle's version belongs to the keyring (``Keyring.trust_bundle``)."""
        if kind is DocKind.TRUST:
            raise ValueError("trust bundle versions come from the keyring")
        name = f"doc/{kind.value}" if agent_id is None else \
            f"doc/{kind.value}/{check_id(agent_id, 'agent id')}"
        epoch, value = self.next(commune, name)
        return DocVersion(epoch=epoch, version=value)
