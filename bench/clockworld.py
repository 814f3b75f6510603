"""Wrong clocks for the playout benchmark, and the real clock exchange that corrects them.

Each simulated agent box has one crystal: its monotonic *and* wall clocks run
``drift_ppm`` off true time (a Pi with no RTC and no chrony), its monotonic clock counts
from its own boot, and its wall clock starts ``offset_ns`` off. The engine never sees the
truth: it reads either

* ``ExchangeClock`` — the real estimator (``agent.clocksync``) fed by a real
  ``ClockSyncClient`` talking CURVE/ZeroMQ to a real controller ``TimeService``, here
  through the userspace relay (``controller.demo.relay``, in a process of its own) with
  delay and jitter; or
* ``OracleClock`` — the box's monotonic clock mapped to true time exactly: what a
  perfect exchange would converge to (the comparison).

Truth is this host's clock: ``CLOCK_BOOTTIME`` and ``time.time_ns()``, which is also the
controller's clock. Conversions between a box's monotonic time and true monotonic time
are exact, so every figure is read on the true clock.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import zmq
import zmq.utils.z85

from controller.dataplane.time_service import TimeService
from protocols.clock import Clock, SystemClock
from protocols.timefields import TimeQuality

_PPM = 1e-6


class DriftingClock:
    """A box's own clocks: one crystal ``drift_ppm`` off, its own boot, a wrong wall clock.

    ``monotonic_ns`` is ``boot_ns`` at creation and runs at ``1 + drift_ppm * 1e-6`` times
    true speed; ``wall_ns`` runs with it from ``true wall + offset_ns``. Quality is
    UNSYNCED: nothing disciplines this box.
    """

    def __init__(self, truth: Clock, *, offset_ns: int, drift_ppm: float,
                 boot_ns: int) -> None:
        self._truth = truth
        self.drift_ppm = drift_ppm
        self.offset_ns = offset_ns
        self._ppm = drift_ppm * _PPM
        self._ref_true = truth.monotonic_ns()
        self._ref_wall = truth.wall_ns() + offset_ns
        self._boot = boot_ns

    def agent_mono(self, true_mono_ns: int) -> int:
        """This box's monotonic reading at a true monotonic instant."""
        elapsed = true_mono_ns - self._ref_true
        return self._boot + elapsed + round(elapsed * self._ppm)

    def true_mono(self, agent_mono_ns: float) -> int:
        """The true monotonic instant of one of this box's monotonic readings."""
        return self._ref_true + round((agent_mono_ns - self._boot) / (1.0 + self._ppm))

    def monotonic_ns(self) -> int:
        return self.agent_mono(self._truth.monotonic_ns())

    def wall_ns(self) -> int:
        elapsed = self._truth.monotonic_ns() - self._ref_true
        return self._ref_wall + elapsed + round(elapsed * self._ppm)

    def quality(self) -> TimeQuality:
        return TimeQuality.UNSYNCED


class OracleClock:
    """The box's monotonic clock mapped to true wall time exactly (a perfect exchange)."""

    def __init__(self, box: DriftingClock, true_wall_minus_mono_ns: int) -> None:
        self._box = box
        self._mapping = true_wall_minus_mono_ns

    def monotonic_ns(self) -> int:
        return self._box.monotonic_ns()

    def wall_ns(self) -> int:
        return self._box.true_mono(self._box.monotonic_ns()) + self._mapping

    def quality(self) -> TimeQuality:
        return TimeQuality.SYNCED


def clock_error_ns(clock: Clock, truth: Clock, tries: int = 20) -> int | None:
    """``clock.wall_ns()`` minus true wall time, read between two true readings; None if
    this thread was preempted in between on every try (a reading of the scheduler)."""
    for _ in range(tries):
        before = truth.wall_ns()
        served = clock.wall_ns()
        after = truth.wall_ns()
        if after - before <= 200_000:
            return served - (before + after) // 2
    return None


class WarningCounter(logging.Handler):
    """Counts (and keeps out of the figures' output) a logger's warnings."""

    def __init__(self, logger: str) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        logging.getLogger(logger).addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


# --------------------------------------------------------------------------- controller side


def make_keys(n: int, path: Path) -> list[str]:
    """``n`` agent CURVE key pairs written (z85) to ``path``; returns the public keys."""
    pairs = [zmq.curve_keypair() for _ in range(n)]
    path.write_text(json.dumps([[p.decode(), s.decode()] for p, s in pairs]))
    path.chmod(0o600)
    return [p.decode() for p, _ in pairs]


def load_key(path: Path, index: int) -> tuple[bytes, bytes]:
    """Agent ``index``'s raw (public, secret) key pair from ``make_keys``' file."""
    public, secret = json.loads(path.read_text())[index]
    return zmq.utils.z85.decode(public), zmq.utils.z85.decode(secret)


_RELAY = """
import logging, sys, time
sys.path.insert(0, {root!r})
from controller.demo.relay import Relay
logging.getLogger("asyncio").setLevel(logging.CRITICAL)
relay = Relay({port}).start()
relay.impair(delay_s={delay}, jitter_s={jitter})
print(relay.port, flush=True)
sys.stdin.read()  # until the parent closes it
relay.stop()
print(relay.bytes_up + relay.bytes_down, flush=True)
"""


class RelayProcess:
    """The userspace relay in a process of its own, as a network path is: it does not
    compete with the controller's time service for a GIL."""

    def __init__(self, target_port: int, delay_ms: float, jitter_ms: float) -> None:
        code = _RELAY.format(root=str(Path(__file__).resolve().parents[1]),
                             port=target_port, delay=delay_ms / 1000,
                             jitter=jitter_ms / 1000)
        self._proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        self.port = int(self._proc.stdout.readline())
        self.bytes = 0

    def stop(self) -> None:
        stdout, _ = self._proc.communicate(timeout=30)
        self.bytes = int(stdout.split()[-1]) if stdout.strip() else 0


@contextmanager
def time_service(public_keys: list[str], *, delay_ms: float, jitter_ms: float,
                 relay: bool = True) -> Iterator[tuple[str, bytes, TimeService,
                                                       RelayProcess | None]]:
    """The controller's time service on loopback (its own ZAP handler allowing exactly the
    bench agents' keys), behind the relay unless ``relay`` is False; yields the endpoint
    agents dial, the server's raw public key, the service and the relay (whose ``bytes``
    are known once the block is left)."""
    allowed = frozenset(zmq.utils.z85.decode(k) for k in public_keys)
    _public, secret = zmq.curve_keypair()
    with TimeService(SystemClock(trust="always"), secret, allowed.__contains__,
                     endpoint="tcp://127.0.0.1:0") as service:
        port = service.port
        link: RelayProcess | None = None
        if relay:
            link = RelayProcess(service.port, delay_ms, jitter_ms)
            port = link.port
        try:
            yield f"tcp://127.0.0.1:{port}", service.public_key, service, link
        finally:
            if link is not None:
                link.stop()
