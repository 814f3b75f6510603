"""Migrations on both backends: from empty, from the previous revision, and in step with
the tables the code declares."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import DatabaseError
from sqlmodel import SQLModel

import controller.storage.tables  # noqa: F401
from controller.storage.database import Database
from controller.storage.migrate import (
    alembic_config,
    applied_revisions,
    downgrade,
    is_up_to_date,
    upgrade,
)
from controller.storage.tables.audit import AuditEntry


def test_upgrade_from_empty_reaches_every_head(db_url: str) -> None:
    db = Database(db_url)
    upgrade(db.engine)
    assert is_up_to_date(db.engine)
    tables = set(inspect(db.engine).get_table_names())
    assert {t.name for t in SQLModel.metadata.sorted_tables} <= tables
    db.dispose()


def test_schema_matches_the_declared_tables(db_url: str) -> None:
    """No drift between the migrations and the SQLModel tables."""
    db = Database(db_url)
    upgrade(db.engine)
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []
    db.dispose()


def every_revision_in_order() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


@pytest.mark.parametrize("revision", every_revision_in_order())
def test_upgrade_from_the_previous_revision(db_url: str, revision: str) -> None:
    """Each revision applies on top of what it stands on, goes back down, and up again."""
    db = Database(db_url)
    script = ScriptDirectory.from_config(alembic_config())
    rev = script.get_revision(revision)
    assert rev is not None
    below = [*as_tuple(rev.down_revision), *as_tuple(rev.dependencies)]
    for target in below:
        upgrade(db.engine, target)
    assert revision not in applied_revisions(db.engine)
    upgrade(db.engine, revision)
    assert revision in applied_revisions(db.engine)
    if rev.down_revision:
        downgrade(db.engine, as_tuple(rev.down_revision)[0])
    else:  # the first revision of its branch
        label = next(iter(rev.branch_labels), None)
        downgrade(db.engine, f"{label}@base" if label else "base")
    assert revision not in applied_revisions(db.engine)
    upgrade(db.engine, "heads")
    assert is_up_to_date(db.engine)
    db.dispose()


def as_tuple(value: str | tuple[str, ...] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def test_audit_log_is_append_only_in_the_database(db_url: str) -> None:
    db = Database(db_url)
    upgrade(db.engine)
    with db.transaction() as session:
        session.add(AuditEntry(username="an", action="unit.create", at=dt.datetime.now(dt.UTC)))
    for statement in ("UPDATE audit_log SET action = 'forged'", "DELETE FROM audit_log"):
        with pytest.raises(DatabaseError, match="append-only"), db.engine.begin() as conn:
            conn.execute(text(statement))
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT action FROM audit_log")).scalar_one() == "unit.create"
    db.dispose()
