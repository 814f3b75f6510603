"""Is the station actually working? Checked before every systemd watchdog ping.

systemd restarts a service that stops pinging, so a ping must mean more than "the main
thread is alive": every component that can wedge (the embedded broker, the fleet link's
threads, the API server, the database) answers a health check first. A lost network is
not a wedge — restarting would not bring it back — so it is reported in the status line,
not withheld from the watchdog. An embedded broker that died is restarted on the spot.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from sqlalchemy import text

from .storage.database import Database

log = logging.getLogger("loaxa.health")


@runtime_checkable
class Checked(Protocol):
    """A component that can say what is wrong with it (None: nothing)."""

    name: str

    def health(self) -> str | None: ...


def database_problem(db: Database) -> str | None:
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return f"database: {type(exc).__name__}: {exc}"
    return None


def problems(db: Database, components: Iterable[object]) -> list[str]:
    found = []
    problem = database_problem(db)
    if problem:
        found.append(problem)
    for component in components:
        if isinstance(component, Checked):
            try:
                problem = component.health()
            except Exception as exc:
                problem = f"health check failed: {exc}"
            if problem:
                found.append(f"{component.name}: {problem}")
    return found
