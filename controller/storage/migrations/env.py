"""Alembic environment: always driven from code with an engine (see ``migrate.py``)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import controller.storage.tables  # noqa: F401  (registers every table)

engine = context.config.attributes.get("engine")
if engine is None:  # pragma: no cover - only reachable from the alembic CLI
    raise SystemExit("run migrations through controller.storage.migrate with an engine")

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=SQLModel.metadata,
                      render_as_batch=connection.dialect.name == "sqlite",
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
