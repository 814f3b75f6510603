"""API tests against a real uvicorn on a real Unix socket (peer credentials) and, where
it matters, on TCP with TLS. The test process runs as root: tests map ``root`` to the
loaxa user they want to act as."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from controller.api.app import create_app
from controller.api.server import ApiServer
from tests.station.kit import Kit, make_kit
from tests.station.speed import cheap_password_hashing  # noqa: F401


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    station = make_kit(f"sqlite:///{tmp_path / 'api.db'}", tmp_path)
    yield station
    station.close()


@pytest.fixture
def app(kit: Kit) -> FastAPI:
    return create_app(kit.services)


@pytest.fixture
def socket_path(app: FastAPI, tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "api.sock"
    server = ApiServer(app, uds=path)
    server.start()
    yield path
    server.stop()


def uds_client(path: Path, **headers: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(uds=str(path)), base_url="http://loaxa",
                        headers=headers, timeout=10)


@pytest.fixture
def local(socket_path: Path) -> Iterator[httpx.Client]:
    """A client on the local socket, authenticated by peer credentials only."""
    with uds_client(socket_path) as client:
        yield client
