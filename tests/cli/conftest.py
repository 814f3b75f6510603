"""CLI tests against a running API on a real Unix socket. Most commands run in-process
through ``controller.cli.app.run`` (the same entry the executable uses, with its error
handling); the exit-code and no-traceback checks also run the real executable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from controller.api.app import create_app
from controller.api.server import ApiServer
from controller.cli.app import run
from tests.station.kit import Kit, make_kit, map_unix_user
from tests.station.speed import cheap_password_hashing  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Station:
    kit: Kit
    socket: Path
    capsys: pytest.CaptureFixture[str]

    def __call__(self, *args: str, stdin: str | None = None) -> Result:
        """``loaxa ARGS`` in-process, as root (mapped to the station's admin)."""
        self.capsys.readouterr()
        if stdin is not None:
            import io

            saved = sys.stdin
            sys.stdin = io.StringIO(stdin)
        try:
            code = run(["--socket", str(self.socket), *args])
        finally:
            if stdin is not None:
                sys.stdin = saved
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def ok(self, *args: str, stdin: str | None = None) -> Any:
        result = self(*args, "--json", stdin=stdin)
        assert result.code == 0, result.err
        return result.json()

    def process(self, *args: str, lang: str = "vi", stdin: str = "") -> Result:
        """The real executable, in its own process."""
        env = {**os.environ, "LOAXA_LANG": lang, "LOAXA_SOCKET": str(self.socket),
               "XDG_STATE_HOME": str(self.socket.parent / "state")}
        done = subprocess.run([sys.executable, "-m", "controller.cli.entry", *args],
                              capture_output=True, text=True, env=env, cwd=ROOT,
                              input=stdin, timeout=60)
        return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def loaxa(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Station]:
    kit = make_kit(f"sqlite:///{tmp_path / 'cli.db'}", tmp_path)
    map_unix_user(kit, "root", "admin")
    socket = tmp_path / "api.sock"
    server = ApiServer(create_app(kit.services), uds=socket)
    server.start()
    yield Station(kit, socket, capsys)
    server.stop()
    kit.close()
