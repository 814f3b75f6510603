"""A real controller for the console's tests, and a console connected to it.

The station runs as ``loaxa controller run`` in a subprocess (tests/support/station_process)
and the console talks to it over the local socket, exactly as an operator's would.

``station`` (per module) is a bare commune. ``fleet`` (one per test session) is a
commune with villages and clusters, a real agent enrolled with a one-time code and
running (so there is live state to show; its reboot command only touches
``fleet.reboot_flag``), a registered agent not enrolled yet, the API also on TCP with TLS
(to log in with a password), alerts evaluated every few seconds, and it can be restarted
in place (``fleet.restart()``: same settings and data) to test reconnection.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import Any

import pytest
from textual.pilot import Pilot

from controller.cli.client import ApiClient
from controller.cli.errors import CliError
from controller.settings import load_settings
from controller.tui import LoaxaConsole
from controller.tui.connection import Connection, Endpoint
from tests.support.agent_process import FAST, AgentProcess, ProvisionedAgent
from tests.support.ports import free_port
from tests.support.station_process import ROOT, Operator, running_station

PASSWORD = "mat-khau-cua-can-bo"  # the fleet's password users (at least 8 characters)


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


def stop_daemon(daemon: Popen[str], timeout: float = 20.0) -> None:
    """An orderly stop (SIGTERM): the controller stops its embedded Mosquitto too, which
    a SIGKILL would leave running."""
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleStation]:
    tmp = tmp_path_factory.mktemp("console")
    with running_station(tmp) as (operator, daemon, _log):
        socket = load_settings(operator.config).api_socket
        try:
            yield ConsoleStation(operator, daemon, operator.config, socket)
        finally:
            stop_daemon(daemon)


# Every timeout here is a bound for a loaded 2-core CI machine running tests in parallel,
# never an expected wait: tests return as soon as the condition holds.
SLACK = 3.0


async def until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 15.0,
                what: str = "the console to show it") -> None:
    """Let the console work until ``condition`` holds (API calls run in threads)."""
    deadline = time.monotonic() + timeout * SLACK
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


def drive(scenario: Callable[[], Awaitable[None]]) -> None:
    """Run an async Pilot scenario from a plain test function."""
    asyncio.run(scenario())


def screen_text(app: LoaxaConsole) -> str:
    """What the terminal shows, as plain text (one line per row)."""
    from rich.console import Console

    console = Console(width=app.size.width, height=app.size.height, record=True,
                      color_system=None, force_terminal=False, file=io.StringIO())
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


# ---------------------------------------------------------------------------- the fleet

VILLAGES = {"thon-dong": "Thôn Đông", "thon-tay": "Thôn Tây", "thon-bac": "Thôn Bắc"}


@dataclass
class FleetStation(ConsoleStation):
    """The shared station with a real agent; see the module docstring."""

    tmp: Path = Path()
    log: Path = Path()
    url: str = ""
    ca_file: Path = Path()
    agent_id: str = ""
    pending_id: str = "ag-tay"
    reboot_flag: Path = Path()
    agent: AgentProcess | None = None
    daemons: list[Popen[str]] = field(default_factory=list)

    def call(self, method: str, path: str, body: Any = None,
             params: dict[str, Any] | None = None, token: str | None = None) -> Any:
        api = ApiClient(socket=self.socket, language="vi", token=token)
        try:
            return api.call(method, path, body=body, params=params)
        finally:
            api.close()

    def endpoint(self, token: str | None = None) -> Endpoint:
        return Endpoint(socket=self.socket, token=token, language="vi")

    def console(self, commune: str | None = "xa-demo", token: str | None = None,
                **kwargs: Any) -> LoaxaConsole:
        return LoaxaConsole(Connection(self.endpoint(token)), commune=commune, **kwargs)

    def user(self, username: str, role: str) -> str:
        """A user of xa-demo with one role (created once); a fresh login token."""
        with contextlib.suppress(CliError):
            self.call("POST", "/users", {"username": username, "password": PASSWORD})
            self.call("POST", f"/users/{username}/grants", {"unit": "xa-demo", "role": role})
        return str(self.call("POST", "/auth/login", {"username": username,
                                                     "password": PASSWORD})["token"])

    def live(self, agent_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/agents/{agent_id}")["live"])

    def wait_online(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.live(self.agent_id)["connectivity"] == "online":
                    return
            except CliError:
                pass
            assert time.monotonic() < deadline, "the agent did not come online:\n" + \
                self.log.read_text()[-2000:]
            time.sleep(0.2)

    # ------------------------------------------------------------------ the daemon
    def reachable(self) -> bool:
        try:
            self.call("GET", "/me")
            return True
        except CliError:
            return False

    def stop(self) -> None:
        stop_daemon(self.daemon)

    def start(self, timeout: float = 40.0) -> None:
        """``loaxa controller run`` again, with the same settings and data directory."""
        with self.log.open("a") as log:
            self.daemon = subprocess.Popen(
                [sys.executable, "-m", "controller.cli.entry", "controller", "run", "-c",
                 str(self.config)], stdout=log, stderr=subprocess.STDOUT, text=True,
                env=self.operator.env, cwd=ROOT)
        self.daemons.append(self.daemon)
        deadline = time.monotonic() + timeout
        while not self.reachable():
            assert self.daemon.poll() is None, self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the controller did not come back"
            time.sleep(0.1)

    def restart(self) -> None:
        self.stop()
        self.start()


def tls_config(folder: Path) -> tuple[str, str, Path]:
    """Settings for the API on TCP with TLS: the ``[api]`` lines, the URL, the CA file."""
    from controller.broker.pki import CertificateAuthority

    ca = CertificateAuthority.create("console test CA")
    issued = ca.issue_server("loaxa-api", ["localhost"], ["127.0.0.1"])
    (folder / "ca.pem").write_bytes(ca.cert_pem)
    (folder / "api.crt").write_bytes(issued.cert_pem)
    (folder / "api.key").write_bytes(issued.key_pem)
    port = free_port()
    lines = (f'\n[api]\ntcp_bind = "127.0.0.1:{port}"\n'
             f'tls_cert = "{folder / "api.crt"}"\ntls_key = "{folder / "api.key"}"\n')
    return lines, f"https://127.0.0.1:{port}", folder / "ca.pem"


def enrol(fleet: FleetStation, cluster: str) -> ProvisionedAgent:
    """The one-time-code flow, with the agent's own CLI (``loaxa agent enroll``)."""
    issued = fleet.call("POST", "/communes/xa-demo/enrolment-codes", {"cluster": cluster})
    words = shlex.split(issued["command"])
    data_dir = fleet.tmp / f"agent-{cluster}"
    done = subprocess.run([sys.executable, "-m", "agent", *words[2:], "--data-dir",
                           str(data_dir), "--json"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    granted = json.loads(done.stdout)
    return ProvisionedAgent(granted["agent_id"], "xa-demo", data_dir, data_dir / "agent.toml")


def furnish(fleet: FleetStation) -> None:
    call = fleet.call
    for key, name in VILLAGES.items():
        call("POST", "/units", {"key": key, "level": "village", "name": name,
                                "parent": "xa-demo"})
    call("POST", "/communes/xa-demo/stations", {"key": "st-1", "name": "Đài xã",
                                                "kind": "ip"})
    for key, village, kind in (("c-dong", "thon-dong", "ip"), ("c-dong-2", "thon-dong", "wired"),
                               ("c-tay", "thon-tay", "ip"), ("c-bac", "thon-bac", "ip")):
        call("POST", "/communes/xa-demo/clusters", {"key": key, "name": key, "kind": kind,
                                                    "station": "st-1", "village": village})
    call("POST", "/communes/xa-demo/agents", {"id": fleet.pending_id, "cluster": "c-tay"})


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetStation]:
    tmp = tmp_path_factory.mktemp("fleet")
    extra, url, ca_file = tls_config(tmp)
    extra += "\n[alerts]\ninterval_s = 5\n"  # the overview's open alerts, soon
    with running_station(tmp, extra_config=extra) as (operator, daemon, log):
        fleet = FleetStation(operator, daemon, operator.config,
                             load_settings(operator.config).api_socket, tmp=tmp, log=log,
                             url=url, ca_file=ca_file, reboot_flag=tmp / "rebooted",
                             daemons=[daemon])
        try:
            furnish(fleet)
            provisioned = enrol(fleet, "c-dong")
            fleet.agent_id = provisioned.agent_id
            fleet.agent = AgentProcess(provisioned, settings={
                **FAST, "commands__reboot": f"/usr/bin/touch {fleet.reboot_flag}"}).start()
            fleet.wait_online()
            yield fleet
        finally:
            if fleet.agent is not None:
                fleet.agent.kill9()
            for process in fleet.daemons:
                stop_daemon(process)
