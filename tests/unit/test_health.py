"""Health checks decide whether the watchdog is petted."""

from __future__ import annotations

from pathlib import Path

from controller.health import problems
from controller.storage.database import Database


class Component:
    def __init__(self, name: str, problem: str | None = None, explode: bool = False) -> None:
        self.name, self._problem, self._explode = name, problem, explode

    def health(self) -> str | None:
        if self._explode:
            raise RuntimeError("boom")
        return self._problem


class Unchecked:
    name = "no health method"


def test_all_healthy(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    assert problems(db, [Component("a"), Unchecked()]) == []


def test_a_sick_or_failing_component_is_reported(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    found = problems(db, [Component("fleet", "ingest stuck"), Component("api", explode=True)])
    assert found == ["fleet: ingest stuck", "api: health check failed: boom"]


def test_an_unreachable_database_is_reported(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")
    [problem] = problems(db, [])
    assert problem.startswith("database:")
