"""Shared fixtures: every process a test needs is real and started here."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.broker import RunningBroker, running_broker

os.environ.setdefault("LOAXA_LANG", "vi")


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBroker]:
    """A real Mosquitto with loaxa's generated TLS/auth/ACL config, one per test module."""
    root: Path = tmp_path_factory.mktemp("broker")
    with running_broker(root) as running:
        yield running
