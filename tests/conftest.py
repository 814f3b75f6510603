"""Shared fixtures: every process a test needs is real and started here."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.broker import RunningBroker, running_broker
from tests.support.databases import BACKENDS, database_url

os.environ.setdefault("LOAXA_LANG", "vi")


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBroker]:
    """A real Mosquitto with loaxa's generated TLS/auth/ACL config, one per test module."""
    root: Path = tmp_path_factory.mktemp("broker")
    with running_broker(root) as running:
        yield running


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend: the storage suite runs on SQLite and PostgreSQL."""
    with database_url(request.param, tmp_path) as url:
        yield url
