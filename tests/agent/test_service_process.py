"""The agent as systemd runs it: sd_notify on a real socket, the watchdog gate, SIGTERM,
memory, and clear (Vietnamese) messages when it cannot start."""

from __future__ import annotations

import itertools
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.playout_api import NullPlayout
from agent.service import AgentService
from agent.watchdog import ProgressGate
from protocols.envelope import Signer
from protocols.keys import SigningIdentity
from protocols.sdnotify import Notifier
from tests.support.agent_process import ROOT, AgentProcess, provision, settings_for
from tests.support.broker import RunningBroker
from tests.support.fleet_double import FleetDouble

S = 10**9


class NotifySocket:
    """A bound datagram socket that collects what a service tells systemd."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, list[str]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.messages.append((time.monotonic(), data.decode().split("\n")))

    def lines(self) -> list[str]:
        return [line for _t, msg in list(self.messages) for line in msg]

    def wait_for(self, line: str, count: int = 1, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.lines().count(line) >= count:
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifySocket]:
    collector = NotifySocket(tmp_path / "notify.sock")
    yield collector
    collector.close()


@pytest.mark.e2e
def test_notify_watchdog_sigterm_and_memory(tmp_path: Path, broker: RunningBroker,
                                            notify: NotifySocket) -> None:
    identity = SigningIdentity.generate()
    agent = provision(broker, tmp_path, "xa-svc", "ag-svc1", identity)
    process = AgentProcess(agent, extra_env={"NOTIFY_SOCKET": str(notify.path),
                                             "WATCHDOG_USEC": "1500000"})
    with FleetDouble(broker, "xa-svc", Signer(identity, 1)) as double:
        process.start()
        try:
            assert notify.wait_for("READY=1"), process.log_text()
            assert notify.wait_for("WATCHDOG=1", count=3), notify.lines()
            assert any(line.startswith("STATUS=online") for line in notify.lines())
            assert double.wait_for(lambda: len(double.heartbeats) >= 5, 20)
            rss_kb = max(process.rss_kb() for _ in range(3) if time.sleep(0.5) is None)
            print(f"agent RSS while running: {rss_kb / 1024:.1f} MB")
            assert rss_kb < 50 * 1024, f"agent RSS {rss_kb} kB"
            telemetry = double.telemetry[-1][2]
            assert 0 < telemetry.rss_kb < 50 * 1024
        finally:
            code = process.terminate()
    assert code == 0
    assert notify.wait_for("STOPPING=1"), notify.lines()
    ready_at = next(t for t, msg in notify.messages if "READY=1" in msg)
    pings = [t for t, msg in notify.messages if "WATCHDOG=1" in msg]
    assert pings and pings[0] >= ready_at  # fed only once the service is up
    assert max(b - a for a, b in itertools.pairwise(pings)) < 1.5  # within WatchdogSec


class StallablePlayout(NullPlayout):
    def __init__(self) -> None:
        super().__init__()
        self.frozen = False

    def progress_marker(self) -> int:
        return 0 if self.frozen else super().progress_marker()


@pytest.mark.e2e
def test_the_watchdog_is_withheld_when_playout_stops_making_progress(
        tmp_path: Path, broker: RunningBroker, notify: NotifySocket) -> None:
    identity = SigningIdentity.generate()
    agent = provision(broker, tmp_path, "xa-wd", "ag-wd1", identity)
    playout = StallablePlayout()
    service = AgentService(settings_for(agent, watchdog__stall_s="0.6",
                                        broker__connect_timeout_s="0.5"), playout=playout,
                           notifier=Notifier({"NOTIFY_SOCKET": str(notify.path),
                                              "WATCHDOG_USEC": "600000"}))
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        assert notify.wait_for("WATCHDOG=1", count=4), notify.lines()  # positive control
        playout.frozen = True
        assert notify.wait_for("STATUS=stalled: playout: no progress for 1 s", timeout=10) or \
            any(line.startswith("STATUS=stalled: playout") for line in notify.lines())
        frozen_at = time.monotonic()
        time.sleep(1.5)
        late = [t for t, msg in notify.messages if "WATCHDOG=1" in msg and t > frozen_at]
        assert late == [], "the watchdog was fed while playout was stuck"
        playout.frozen = False  # progress again: fed again
        count = notify.lines().count("WATCHDOG=1")
        assert notify.wait_for("WATCHDOG=1", count=count + 2, timeout=5)
    finally:
        service.request_stop()
        thread.join(15)


def test_the_progress_gate() -> None:
    gate = ProgressGate(stall_ns=5 * S)
    turns = iter(range(1000))
    frozen = [7]
    gate.watch("network", lambda: next(turns), 0)
    gate.watch("playout", lambda: frozen[0], 0)
    assert gate.stalled(4 * S) == []
    assert gate.stalled(6 * S) == ["playout: no progress for 6 s"]
    frozen[0] = 8
    assert gate.stalled(7 * S) == []
    gate.block("main", "5 failing turns in a row")
    assert gate.stalled(8 * S) == ["main: 5 failing turns in a row"]
    gate.unblock("main")

    def broken() -> int:
        raise RuntimeError("wedged")

    gate.watch("broken", broken, 8 * S)
    assert gate.stalled(20 * S)[-1].startswith("broken: no progress")


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=60, env=env)


def test_cli_errors_are_clear_and_vietnamese_by_default(tmp_path: Path) -> None:
    import os

    base = {k: v for k, v in os.environ.items() if not k.startswith(("LOAXA_", "LANG", "LC_"))}
    config = tmp_path / "agent.toml"
    config.write_text('[agent]\nid = "ag-1"\ncommune = "xa-a"\n'
                      f'data_dir = "{tmp_path / "data"}"\n'
                      '[broker]\nhost = "h"\nport = 99999\npassword = "x"\n')
    result = run_cli("run", "-c", str(config), env=base)
    assert result.returncode == 78
    assert result.stderr.strip().startswith("Lỗi cấu hình ở broker.port: must be at most")
    assert "Traceback" not in result.stderr
    config.write_text(config.read_text().replace("99999", "8883"))
    result = run_cli("run", "-c", str(config), env=base)
    assert result.returncode == 78 and "chưa được đăng ký" in result.stderr
    english = run_cli("run", "-c", str(config), env={**base, "LANG": "en_US.UTF-8"})
    assert "is not enrolled yet" in english.stderr
    missing = run_cli("run", "-c", str(tmp_path / "nope.toml"), env=base)
    assert missing.returncode == 78 and "does not exist" in missing.stderr


@pytest.mark.e2e
def test_a_corrupt_journal_is_set_aside_not_fatal(tmp_path: Path, broker: RunningBroker) -> None:
    identity = SigningIdentity.generate()
    agent = provision(broker, tmp_path, "xa-rot", "ag-rot1", identity)
    agent.journal_path.write_bytes(b"this is not an SQLite database" * 100)
    service = AgentService(settings_for(agent), notifier=Notifier({}))
    try:
        kinds = [type(r).__name__ for _s, r, _a in service.journal.entries()]
        assert kinds == ["Boot", "Event"]
        event = service.journal.entries()[-1][1]
        assert getattr(event, "code", "") == "journal-replaced"
        assert list(agent.data_dir.glob("journal.db.corrupt-*"))
    finally:
        service.journal.close_file()
        service.state.close()


def test_a_corrupt_state_file_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    import os

    data = tmp_path / "data"
    data.mkdir()
    (data / "state.db").write_bytes(b"garbage" * 1000)
    config = tmp_path / "agent.toml"
    config.write_text(f'[agent]\nid = "ag-1"\ncommune = "xa-a"\ndata_dir = "{data}"\n'
                      '[broker]\nhost = "h"\npassword = "x"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOAXA_", "LANG", "LC_"))}
    result = run_cli("run", "-c", str(config), env=env)
    assert result.returncode == 73, result.stderr
    assert result.stderr.startswith("Không khởi động được tác tử:")
    assert "Traceback" not in result.stderr
