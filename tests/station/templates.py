"""Seeded databases cloned per test: migrating and seeding a station takes a second on
PostgreSQL, cloning it takes a few milliseconds (``CREATE DATABASE ... TEMPLATE``; the
SQLite backup API for SQLite). The seed is built once per test session and backend, into
the very database the ``db_url`` fixture handed out, so every test still gets its own."""

from __future__ import annotations

import atexit
import secrets
import sqlite3
import tempfile
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from tests.support.databases import PG_ADMIN_URL

_templates: dict[str, str] = {}
_admin: list[Engine] = []


def _admin_engine() -> Engine:
    if not _admin:
        _admin.append(create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT"))
    return _admin[0]


def _build(url: str, folder: Path) -> None:
    from .kit import make_kit

    kit = make_kit(url, folder, seed=True, cloned=False)
    kit.close()


def _sqlite_template() -> str:
    if "sqlite" not in _templates:
        folder = Path(tempfile.mkdtemp(prefix="loaxa-seed-"))
        path = folder / "seed.db"
        _build(f"sqlite:///{path}", folder)
        _templates["sqlite"] = str(path)
    return _templates["sqlite"]


def _postgres_template() -> str:
    if "postgresql" not in _templates:
        name = f"loaxa_seed_{secrets.token_hex(6)}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        atexit.register(_drop, name)
        url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        _build(url, Path(tempfile.mkdtemp(prefix="loaxa-seed-")))
        _templates["postgresql"] = name
    return _templates["postgresql"]


def _drop(name: str) -> None:
    with _admin_engine().connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    _admin_engine().dispose()


def clone_seeded(db_url: str) -> None:
    """Fill the (empty) database at ``db_url`` with the seeded station."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        source = sqlite3.connect(_sqlite_template())
        target = sqlite3.connect(str(url.database))
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        return
    template = _postgres_template()
    with _admin_engine().connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{url.database}" TEMPLATE "{template}"'))
