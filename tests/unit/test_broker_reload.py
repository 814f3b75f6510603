"""How the embedded broker is asked to reload (controller/broker/process.py): Mosquitto
loses a SIGHUP that arrives during a reload, so a burst of changes gets one SIGHUP at
once and one more after the spacing, never two closer together. The "broker" here is a
real child process that notes each SIGHUP it receives."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.broker import process as broker_process
from controller.broker.files import BrokerLayout
from controller.broker.process import MosquittoProcess

LISTENER = """
import signal, sys, time
signal.signal(signal.SIGHUP, lambda *_: print(time.monotonic(), flush=True))
print("ready", flush=True)
time.sleep(60)
"""
SPACING_S = 0.3


class Listener:
    """The child, and the times it noted a SIGHUP."""

    def __init__(self, tmp_path: Path) -> None:
        self.broker = MosquittoProcess(BrokerLayout(tmp_path), port=0)
        self.child = subprocess.Popen([sys.executable, "-c", LISTENER],
                                      stdout=subprocess.PIPE, text=True)
        assert self.next_line() == "ready"
        self.broker._proc = self.child  # type: ignore[assignment]

    def next_line(self) -> str:
        assert self.child.stdout is not None
        return self.child.stdout.readline().strip()

    def the_rest(self) -> list[float]:
        time.sleep(4 * SPACING_S)  # long enough for any SIGHUP still to come
        self.child.terminate()
        out, _ = self.child.communicate(timeout=5)
        return [float(line) for line in out.split()]


@pytest.fixture
def listener(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Listener]:
    monkeypatch.setattr(broker_process, "RELOAD_SPACING_S", SPACING_S)
    running = Listener(tmp_path)
    yield running
    running.child.kill()
    running.child.wait()


def test_a_burst_gets_one_sighup_at_once_and_at_most_one_after_it(listener: Listener) -> None:
    for _ in range(20):
        listener.broker.reload()
    seen = listener.the_rest()
    assert 1 <= len(seen) <= 2, seen  # the changes the first went out after share a second
    assert len(seen) == 1 or seen[1] - seen[0] >= SPACING_S * 0.95, seen


def test_changes_after_a_sighup_get_one_more_after_the_spacing(listener: Listener) -> None:
    listener.broker.reload()
    first = float(listener.next_line())  # it went out at once
    for _ in range(20):
        listener.broker.reload()  # during the reload it started: would be lost
    rest = listener.the_rest()
    assert len(rest) == 1, rest  # one more for all twenty
    assert rest[0] - first >= SPACING_S * 0.95, (first, rest)


def test_a_stopped_or_replaced_broker_is_not_signalled(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(broker_process, "RELOAD_SPACING_S", SPACING_S)
    broker = MosquittoProcess(BrokerLayout(tmp_path), port=0)
    broker.reload()  # nothing running: nothing to signal, and no error
    time.sleep(2 * SPACING_S)
    assert broker._reloader is None
