"""Test-only: a cheaper scrypt cost, so seeding users does not dominate the suite (the
stored cost travels with each hash, so verification still works either way)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from controller.security import passwords


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(passwords, "LOG2_N", 10)
    yield
