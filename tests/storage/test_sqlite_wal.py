"""The embedded SQLite database runs in WAL mode: a writer commits while readers (reports,
the API, a backup's ``VACUUM INTO``) hold their snapshot, and the mode is in the file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from controller.storage.database import Database, sqlite_url


def journal_mode(path: Path) -> str:
    """As a plain connection sees it (no pragmas of ours)."""
    connection = sqlite3.connect(path)
    try:
        return str(connection.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        connection.close()


def commit_under_a_reader(path: Path, table: str) -> tuple[int, int]:
    """A reader opens a snapshot, a writer commits a row without waiting (timeout 0):
    the rows the reader still sees, and the rows there are after."""
    reader = sqlite3.connect(path, timeout=0, isolation_level=None)
    writer = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        reader.execute("BEGIN")
        before = reader.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        writer.execute(f"INSERT INTO {table} DEFAULT VALUES")  # autocommit
        during = reader.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        reader.execute("COMMIT")
        after = reader.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        assert during == before
        return during, after
    finally:
        writer.close()
        reader.close()


def test_sqlite_runs_in_wal_journal_mode(tmp_path: Path) -> None:
    path = tmp_path / "loaxa.db"
    db = Database(sqlite_url(path))
    try:
        db.upgrade()
        with db.engine.begin() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert conn.execute(text("PRAGMA synchronous")).scalar_one() == 2  # FULL
            conn.execute(text("CREATE TABLE probe (id INTEGER PRIMARY KEY)"))
    finally:
        db.dispose()
    assert journal_mode(path) == "wal"  # persistent: a property of the file
    assert commit_under_a_reader(path, "probe") == (0, 1)

    # The control: a file loaxa did not open keeps the rollback journal, where the same
    # commit has to wait for the reader, so both checks above can tell the modes apart.
    plain = tmp_path / "plain.db"
    sqlite3.connect(plain).execute("CREATE TABLE probe (id INTEGER PRIMARY KEY)"
                                   ).connection.close()
    assert journal_mode(plain) == "delete"
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        commit_under_a_reader(plain, "probe")
