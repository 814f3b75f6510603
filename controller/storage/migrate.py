"""Running Alembic from code: the controller upgrades its own database at start.

Each area owns a migration *branch* (``core``, ``fleet``, ``library``, ...) whose first
revision depends on ``core``; ``upgrade heads`` brings every branch up to date. Areas can
then grow their schema independently without fighting over one linear chain.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, target: str = "heads") -> None:
    command.upgrade(alembic_config(engine), target)


def downgrade(engine: Engine, target: str) -> None:
    command.downgrade(alembic_config(engine), target)


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def applied_revisions(engine: Engine) -> set[str]:
    """Every revision in force: the current heads and all they stand on (across branches,
    a branch's dependency on ``core`` makes ``core`` an ancestor, not a separate head)."""
    script = ScriptDirectory.from_config(alembic_config())
    current = tuple(current_revisions(engine))
    if not current:
        return set()
    return {rev.revision for rev in script.iterate_revisions(current, "base")}


def is_up_to_date(engine: Engine) -> bool:
    return head_revisions() <= applied_revisions(engine)
