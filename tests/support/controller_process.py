"""A real station daemon that a test can kill and restart: ``loaxa controller run`` as a
subprocess, against the test's own Mosquitto (``broker.mode = "external"``, as at a
provincial hub) and any database URL (SQLite or PostgreSQL).

With no embedded broker, ``kill -9`` leaves nothing behind, so the daemon can crash and
come back while its agents and the broker carry on. Agents join through the real
one-time-code flow (``enrol``); the external broker's accounts are managed outside loaxa,
so the test adds the granted account to its broker, as the hub's operator would.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from controller.broker.accounts import Role
from controller.cli.client import ApiClient

from . import child
from .agent_process import ProvisionedAgent
from .broker import RunningBroker
from .station_process import loopback_planes

ROOT = Path(__file__).resolve().parents[2]


class ControllerProcess:
    """``agent_port``: the broker port written into enrolment grants (a relay in front of
    the broker, say); the daemon itself dials the broker directly."""

    def __init__(self, root: Path, broker: RunningBroker, db_url: str, commune: str, *,
                 agent_port: int | None = None) -> None:
        self.root = root
        self.broker = broker
        self.commune = commune
        self.db_url = db_url
        self.data_dir = root / "station"
        self.config = root / "loaxa.toml"
        self.log_path = root / "controller.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        username = f"ctl-{commune}"[:64]
        if username not in broker.credentials:
            broker.add(username, Role.CONTROLLER, commune)
        root.mkdir(parents=True, exist_ok=True)
        password_file = root / "broker-password"
        password_file.write_text(broker.credentials[username].password + "\n")
        password_file.chmod(0o600)
        self.config.write_text(f"""
[station]
commune = "{commune}"
name = "Xã thử"
data_dir = "{self.data_dir}"

[database]
url = "{db_url}"

[broker]
mode = "external"
host = "127.0.0.1"
port = {broker.port}
public_host = "127.0.0.1"
public_port = {agent_port or broker.port}
username = "{username}"
password_file = "{password_file}"
ca_file = "{broker.layout.ca_cert}"

{loopback_planes()}""")
        self.env = {**os.environ, "LOAXA_LANG": "en", "XDG_STATE_HOME": str(root / "state"),
                    "PYTHONUNBUFFERED": "1"}
        for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
            self.env.pop(name, None)
        self.cli("admin", "init", "--username", "admin")

    # ------------------------------------------------------------------ the daemon
    def cli(self, *args: str) -> Any:
        """``loaxa -c CONFIG ARGS --json`` (for what has no API: ``admin init``)."""
        done = subprocess.run([sys.executable, "-m", "controller.cli.entry", "-c",
                               str(self.config), *args, "--json"], capture_output=True,
                              text=True, env=self.env, cwd=ROOT, timeout=120)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        return json.loads(done.stdout)

    def start(self, timeout: float = 90.0) -> ControllerProcess:
        """Start the daemon and wait until its API answers (the bound is for a loaded CI
        machine; start-up takes a few seconds)."""
        assert not self.alive, "already running"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "controller.cli.entry", "controller", "run", "-c",
                 str(self.config)], cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT)
        self.starts += 1
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.api("GET", "/me")
                return self
            except httpx.TransportError:
                assert self.alive, f"the controller exited:\n{self.log_text()[-3000:]}"
                assert time.monotonic() < deadline, "the controller did not come up"
                time.sleep(0.2)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        child.kill9(self.proc)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM (an orderly stop), then its exit code."""
        assert self.proc is not None
        return child.stop(self.proc, timeout)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> ControllerProcess:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.alive:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.terminate()

    # ------------------------------------------------------------------ operating it
    def api(self, method: str, path: str, body: Any = None) -> Any:
        """The operator API over the daemon's Unix socket (peer credentials: the admin
        that ``admin init`` mapped to this Unix user)."""
        client = ApiClient(socket=self.data_dir / "api.sock", language="en")
        try:
            response = client.http.request(method, f"/v1{path}", json=body)
        finally:
            client.close()
        assert response.status_code < 300, f"{method} {path}: {response.text}"
        return response.json() if response.content else None

    def enrol(self, cluster: str, data_dir: Path) -> ProvisionedAgent:
        """A new agent in a new cluster of village ``thon-<cluster>``, claimed with the
        agent's own ``enroll`` command, its broker account added to the test broker."""
        village = f"thon-{cluster}"
        self.api("POST", "/units", {"key": village, "level": "village", "name": village,
                                    "parent": self.commune})
        stations = self.api("GET", f"/stations?commune={self.commune}")
        if not any(s["key"] == "st-1" for s in stations):
            self.api("POST", f"/communes/{self.commune}/stations",
                     {"key": "st-1", "name": "Đài", "kind": "ip"})
        self.api("POST", f"/communes/{self.commune}/clusters",
                 {"key": cluster, "name": cluster, "kind": "ip", "station": "st-1",
                  "village": village})
        issued = self.api("POST", f"/communes/{self.commune}/enrolment-codes",
                          {"cluster": cluster, "agent_id": None})
        words = shlex.split(issued["command"])
        done = subprocess.run([sys.executable, "-m", "agent", *words[2:], "--data-dir",
                               str(data_dir), "--json"], capture_output=True, text=True,
                              cwd=ROOT, timeout=60)
        assert done.returncode == 0, done.stderr
        agent_id = json.loads(done.stdout)["agent_id"]
        password = (data_dir / "broker.password").read_text().strip()
        self.broker.add(agent_id, Role.AGENT, self.commune, password=password)
        return ProvisionedAgent(agent_id, self.commune, data_dir, data_dir / "agent.toml")
