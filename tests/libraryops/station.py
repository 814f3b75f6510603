"""A running station for the library tests, and the ways an operator reaches it: the
CLI (``Operator``), the operator API on the local socket (uploads with httpx, as the
CLI does), the event stream, and the database and folders behind it (to prove that a
refusal left them alone)."""

from __future__ import annotations

import contextlib
import json
import shlex
import sqlite3
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import zmq.utils.z85
from websockets.sync.client import unix_connect

from tests.library import media
from tests.support.station_process import ROOT, Operator, running_station

COMMUNE = "xa-demo"
FINISHED = ("done", "refused", "failed")


@dataclass
class Station:
    operator: Operator
    root: Path
    log: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def content(self) -> Path:
        return self.data / "content"

    @property
    def uploads(self) -> Path:
        return self.data / "uploads"

    @property
    def socket(self) -> Path:
        return self.data / "api.sock"

    def client(self, language: str = "vi", token: str | None = None) -> httpx.Client:
        headers = {"Accept-Language": language}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(transport=httpx.HTTPTransport(uds=str(self.socket)),
                            base_url="http://loaxa", headers=headers, timeout=60)

    def upload(self, path: Path, *, name: str | None = None, commune: str = COMMUNE,
               language: str = "vi", token: str | None = None,
               **form: str) -> httpx.Response:
        with self.client(language, token) as client, path.open("rb") as handle:
            return client.post(f"/v1/communes/{commune}/library/imports",
                               files={"file": (name or path.name, handle)}, data=form)

    def job(self, job_id: str, *, commune: str = COMMUNE, language: str = "vi",
            timeout_s: float = 120.0) -> dict[str, Any]:
        """The job once it has finished."""
        deadline = time.monotonic() + timeout_s
        with self.client(language) as client:
            while True:
                response = client.get(f"/v1/communes/{commune}/library/imports/{job_id}")
                assert response.status_code == 200, response.text
                job: dict[str, Any] = response.json()
                if job["state"] in FINISHED:
                    return job
                assert time.monotonic() < deadline, f"import {job_id} did not finish: {job}"
                time.sleep(0.2)

    def rows(self) -> list[tuple[Any, ...]]:
        """Every ``library_item`` row, read behind the API's back."""
        with contextlib.closing(sqlite3.connect(self.data / "loaxa.db")) as conn:
            return list(conn.execute("SELECT * FROM library_item ORDER BY id"))

    def sql(self, statement: str, *params: Any) -> None:
        with contextlib.closing(sqlite3.connect(self.data / "loaxa.db", timeout=30)) as conn:
            conn.execute(statement, params)
            conn.commit()

    def store(self) -> dict[str, tuple[int, bytes]]:
        return media.snapshot(self.content)

    def stored_files(self) -> list[Path]:
        return sorted(self.content.glob("??/*.opus"))

    def assert_clean_log(self) -> None:
        text = self.log.read_text()
        assert "Traceback" not in text, text[-4000:]


@contextlib.contextmanager
def station(root: Path, extra_config: str = "",
            daemon_env: dict[str, str] | None = None) -> Iterator[Station]:
    with running_station(root, extra_config, daemon_env) as (operator, _daemon, log):
        running = Station(operator, root, log)
        yield running
        running.assert_clean_log()


@dataclass
class EventTap:
    """The operator API's event stream, recorded in a thread."""

    socket: Path
    events: list[dict[str, Any]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _ready: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> EventTap:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "the event stream did not open"
        self._prime()
        return self

    def _prime(self) -> None:
        """The server subscribes a moment after the handshake: until an event of our own
        arrives, later ones could be missed. An empty upload makes one (and adds nothing)."""
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(self.socket)),
                          base_url="http://loaxa", timeout=30) as client:
            job = client.post(f"/v1/communes/{COMMUNE}/library/imports",
                              files={"file": ("event-probe.mp3", b"")}).json()
        self.wait_for(lambda e: e.get("job_id") == job["id"] and e["state"] == "refused")

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        with unix_connect(str(self.socket), uri="ws://loaxa/v1/events",
                          open_timeout=5) as ws:
            self._ready.set()
            while not self._stop.is_set():
                try:
                    raw = ws.recv(timeout=0.2)
                except TimeoutError:
                    continue
                self.events.append(json.loads(raw))

    def of_kind(self, *kinds: str) -> list[dict[str, Any]]:
        return [e for e in list(self.events) if e["kind"] in kinds]

    def wait_for(self, predicate: Any, timeout_s: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = [e for e in list(self.events) if predicate(e)]
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError(f"no such event; got {[e['kind'] for e in self.events]}")


@dataclass
class Enrolled:
    agent_id: str
    endpoint: str
    server_key: bytes
    data_dir: Path

    @property
    def config(self) -> Path:
        return self.data_dir / "agent.toml"


def enrol(running: Station, data_dir: Path) -> Enrolled:
    """One agent (cluster c-1 in village thon-1), claimed with its own CLI."""
    op = running.operator
    op.json("units", "create", "thon-1", "--level", "village", "--name", "Thôn 1",
            "--parent", COMMUNE)
    op.json("stations", "create", COMMUNE, "st-1", "--name", "Đài xã", "--kind", "ip")
    op.json("clusters", "create", COMMUNE, "c-1", "--name", "Cụm 1", "--kind", "ip",
            "--station", "st-1", "--village", "thon-1")
    issued = op.json("enrol", "issue", COMMUNE, "--cluster", "c-1")
    words = shlex.split(issued["command"])
    done = subprocess.run([sys.executable, "-m", "agent", *words[2:], "--data-dir",
                           str(data_dir), "--json"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    granted = json.loads(done.stdout)
    config = tomllib.loads((data_dir / "agent.toml").read_text())["data_plane"]
    return Enrolled(granted["agent_id"], config["endpoint"],
                    zmq.utils.z85.decode(config["server_key"]), data_dir)


def imported(running: Station, path: Path, title: str) -> dict[str, Any]:
    jobs = running.operator.json("library", "import", str(path), "--title", title)
    assert jobs[0]["state"] == "done", jobs
    item: dict[str, Any] = jobs[0]["item"]
    return item
