"""The scripted scenario, installed once per backend and module, indexed and rolled up."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from controller.storage.database import Database
from controller.uptime.indexer import AiringIndexer
from protocols.clock import ManualClock
from tests.support.databases import BACKENDS, database_url

from . import scenario


@dataclass
class Installed:
    db: Database
    ids: dict[str, int]
    fleet: scenario.Fleet


def install(db: Database) -> Installed:
    fleet = scenario.Fleet.build()
    ids = scenario.install_registry(db)
    scenario.install_plans(db, fleet, ids, [a for agents in scenario.COMMUNE_AGENTS.values()
                                            for a in agents])
    for commune, agents in scenario.COMMUNE_AGENTS.items():
        scenario.ingest(db, fleet.deliveries(agents), ids[commune])
    clock = ManualClock(wall_ns=int(scenario.NOW.timestamp()) * 10**9)
    for commune in scenario.COMMUNE_AGENTS:
        AiringIndexer(db, ids[commune], scenario.DEFINITION.window.tz, clock).catch_up()
    return Installed(db, ids, fleet)


@pytest.fixture(scope="module", params=BACKENDS)
def installed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[Installed]:
    with database_url(request.param, tmp_path_factory.mktemp("reports")) as url:
        db = Database(url)
        db.upgrade()
        yield install(db)
        db.dispose()


@pytest.fixture(scope="module")
def sqlite_installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """One backend is enough where only the rendering is under test."""
    path = tmp_path_factory.mktemp("render") / "loaxa.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    yield install(db)
    db.dispose()
