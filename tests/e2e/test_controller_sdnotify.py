"""The station daemon speaks sd_notify to a real NOTIFY_SOCKET: READY, then WATCHDOG only
while healthy (a crashed embedded broker is restarted, not ignored), STOPPING at the end."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest

from tests.support.station_process import running_station

pytestmark = pytest.mark.e2e


def messages(sock: socket.socket, seconds: float) -> list[str]:
    until = time.monotonic() + seconds
    found: list[str] = []
    while time.monotonic() < until:
        sock.settimeout(max(0.05, until - time.monotonic()))
        try:
            found.extend(sock.recv(4096).decode().splitlines())
        except TimeoutError:
            break
    return found


def mosquitto_pids(config_dir: Path) -> set[int]:
    """Mosquitto processes started with a config file under ``config_dir``."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"mosquitto") and str(config_dir).encode() in b" ".join(argv):
            pids.add(int(entry.name))
    return pids


def test_ready_watchdog_status_and_stopping(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        env = {"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "3000000"}
        with running_station(tmp_path, daemon_env=env) as (_operator, daemon, log):
            seen = messages(sock, 4)
            assert "READY=1" in seen
            assert seen.count("WATCHDOG=1") >= 2, seen
            assert any(line.startswith("STATUS=") and "agents online" in line
                       for line in seen), seen

            broker_dir = tmp_path / "data" / "broker"
            [first] = mosquitto_pids(broker_dir)
            os.kill(first, signal.SIGKILL)
            seen = messages(sock, 5)
            restarted = mosquitto_pids(broker_dir)
            assert restarted and first not in restarted, "the broker was not restarted"
            assert seen.count("WATCHDOG=1") >= 2, seen  # healthy again, pings go on

            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(20) == 0, log.read_text()
            assert "STOPPING=1" in messages(sock, 1)
        assert "Traceback" not in log.read_text()
