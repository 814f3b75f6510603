"""The agent's small durable state: high-water marks, trust, applied documents, counters.

Stdlib ``sqlite3`` in WAL mode with ``synchronous=FULL``: a mark must survive a power
cut the instant it is written, or a replayed command could run twice. The journal lives
in its own database; this one stays tiny.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from protocols.messages import DocVersion

TRUST_SETTING = "trust"  # settings key holding the TrustStore's bytes

SCHEMA = """
CREATE TABLE IF NOT EXISTS marks (name TEXT PRIMARY KEY, epoch INTEGER NOT NULL,
                                  version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS documents (kind TEXT PRIMARY KEY, epoch INTEGER NOT NULL,
                                      version INTEGER NOT NULL, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value BLOB NOT NULL);
"""


def open_database(path: Path) -> sqlite3.Connection:
    """A connection with loaxa's durability settings (shared with the journal)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class AgentState:
    """Durable marks (a ``WatermarkStore``), the last applied documents, small settings."""

    def __init__(self, path: Path) -> None:
        self._conn = open_database(path)
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # WatermarkStore
    def get(self, name: str) -> DocVersion | None:
        with self._lock:
            row = self._conn.execute("SELECT epoch, version FROM marks WHERE name = ?",
                                     (name,)).fetchone()
        return DocVersion(row[0], row[1]) if row else None

    def put(self, name: str, mark: DocVersion) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO marks(name, epoch, version) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET epoch = excluded.epoch, "
                "version = excluded.version", (name, mark.epoch, mark.version))

    def marks(self) -> dict[str, DocVersion]:
        with self._lock:
            rows = self._conn.execute("SELECT name, epoch, version FROM marks").fetchall()
        return {name: DocVersion(epoch, version) for name, epoch, version in rows}

    # Documents, stored as the exact body bytes that were verified.
    def save_document(self, kind: str, mark: DocVersion, body: bytes) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO documents(kind, epoch, version, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(kind) DO UPDATE SET epoch = excluded.epoch, "
                "version = excluded.version, body = excluded.body",
                (kind, mark.epoch, mark.version, body))

    def document(self, kind: str) -> tuple[DocVersion, bytes] | None:
        with self._lock:
            row = self._conn.execute("SELECT epoch, version, body FROM documents WHERE kind = ?",
                                     (kind,)).fetchone()
        return (DocVersion(row[0], row[1]), bytes(row[2])) if row else None

    # Settings: trust store bytes, session counter, ...
    def setting(self, key: str) -> bytes | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM settings WHERE key = ?",
                                     (key,)).fetchone()
        return bytes(row[0]) if row else None

    def set_setting(self, key: str, value: bytes) -> None:
        with self._lock:
            self._conn.execute("INSERT INTO settings(key, value) VALUES (?, ?) "
                               "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                               (key, value))

    def next_counter(self, key: str) -> int:
        """Increment and return a durable counter (e.g. the MQTT session number)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                row = self._conn.execute("SELECT value FROM settings WHERE key = ?",
                                         (key,)).fetchone()
                value = int.from_bytes(row[0], "big") + 1 if row else 1
                self._conn.execute("INSERT INTO settings(key, value) VALUES (?, ?) "
                                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                                   (key, value.to_bytes(8, "big")))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return value
