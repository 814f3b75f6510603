"""A real controller for the console's tests, and a console connected to it.

The station runs as ``loaxa controller run`` in a subprocess (tests/support/station_process)
and the console talks to it over the local socket, exactly as an operator's would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen

import pytest
from textual.pilot import Pilot

from controller.cli.client import ApiClient
from controller.settings import load_settings
from controller.tui import LoaxaConsole
from controller.tui.connection import Connection
from tests.support.station_process import Operator, running_station


@dataclass
class ConsoleStation:
    operator: Operator
    daemon: Popen[str]
    config: Path
    socket: Path

    def console(self, commune: str | None = "xa-demo") -> LoaxaConsole:
        connection = Connection(lambda: ApiClient(socket=self.socket, language="vi"))
        return LoaxaConsole(connection, commune=commune)

    def api(self) -> ApiClient:
        return ApiClient(socket=self.socket, language="vi")


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleStation]:
    tmp = tmp_path_factory.mktemp("console")
    with running_station(tmp) as (operator, daemon, _log):
        socket = load_settings(operator.config).api_socket
        yield ConsoleStation(operator, daemon, operator.config, socket)


async def until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 15.0,
                what: str = "the console to show it") -> None:
    """Let the console work until ``condition`` holds (API calls run in threads)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


def drive(scenario: Callable[[], Awaitable[None]]) -> None:
    """Run an async Pilot scenario from a plain test function."""
    asyncio.run(scenario())
