"""Service tests run on SQLite and PostgreSQL (the ``db_url`` fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .kit import Kit, make_kit


@pytest.fixture
def kit(db_url: str, tmp_path: Path) -> Iterator[Kit]:
    station = make_kit(db_url, tmp_path)
    yield station
    station.close()

from .speed import cheap_password_hashing  # noqa: E402,F401
