"""A whole station as an operator runs it, for end-to-end tests: ``loaxa admin init``
then ``loaxa controller run`` as a subprocess with its embedded Mosquitto, driven through
the real CLI over the local socket."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


class Operator:
    def __init__(self, config: Path, state: Path) -> None:
        self.config = config
        self.env = {**os.environ, "LOAXA_LANG": "vi", "XDG_STATE_HOME": str(state)}

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "controller.cli.entry", "-c",
                               str(self.config), *args], capture_output=True, text=True,
                              env=self.env, cwd=ROOT, timeout=60)
        assert "Traceback" not in done.stderr, done.stderr
        if check:
            assert done.returncode == 0, done.stderr
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)


def loopback_planes() -> str:
    """The data plane on free loopback ports and no scheduled backups: a test station."""
    return f"""
[dataplane]
bind_host = "127.0.0.1"
public_host = "127.0.0.1"
enrol_port = {free_port()}
content_port = {free_port()}
clock_port = {free_port()}

[backup]
interval_hours = 0
"""


@contextmanager
def running_station(tmp_path: Path, extra_config: str = "",
                    daemon_env: dict[str, str] | None = None
                    ) -> Iterator[tuple[Operator, subprocess.Popen[str], Path]]:
    config = tmp_path / "loaxa.toml"
    config.write_text(f"""
[station]
commune = "xa-demo"
name = "Xã Demo"
data_dir = "{tmp_path / 'data'}"

[broker]
port = {free_port()}

{loopback_planes()}""" + extra_config)
    operator = Operator(config, tmp_path / "state")
    init = operator.json("admin", "init", "--username", "admin")
    assert init["unix_user"] == "root" and init["granted"] == ["xa-demo"]
    log = (tmp_path / "daemon.log").open("w")
    daemon = subprocess.Popen([sys.executable, "-m", "controller.cli.entry", "controller",
                               "run", "-c", str(config)], stdout=log, stderr=subprocess.STDOUT,
                              text=True, env={**operator.env, **(daemon_env or {})},
                              cwd=ROOT)
    deadline = time.monotonic() + 90  # a bound for a loaded CI machine, not a wait
    while operator.run("whoami", check=False).returncode != 0:
        assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()
        assert time.monotonic() < deadline, "the controller did not come up"
        time.sleep(0.2)
    try:
        yield operator, daemon, tmp_path / "daemon.log"
    finally:
        if daemon.poll() is None:
            # SIGTERM first: the daemon stops its embedded Mosquitto, which a SIGKILL
            # would leave running (a broker leaked per test on a 2-core CI machine).
            daemon.terminate()
            try:
                daemon.wait(30)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        log.close()
