"""Running Mosquitto as a child process: the embedded broker of `loaxa demo`, of a
controller with no broker configured, and of the test suite."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

from .files import BrokerLayout

#: Mosquitto clears its reload flag only when a reload has finished, so a SIGHUP that
#: arrives during one is lost, and with it the accounts written for it (two agents
#: enrolled at once: the second was "not authorised" until some later change). SIGHUPs
#: go out at least this far apart, and the last change always gets one after it.
RELOAD_SPACING_S = 1.0


class BrokerStartError(RuntimeError):
    """Mosquitto could not be started; the message carries its own complaint."""


class MosquittoProcess:
    def __init__(self, layout: BrokerLayout, port: int, host: str = "127.0.0.1",
                 server_name: str = "loaxa-broker", binary: str | None = None) -> None:
        self.layout = layout
        self.host = host
        self.port = port
        self.server_name = server_name
        self.binary = binary or shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Path = layout.log
        self._reload_lock = threading.Lock()
        self._reloads_wanted = 0
        self._reloads_sent = 0
        self._reload_target: subprocess.Popen[bytes] | None = None
        self._reloader: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self, timeout: float = 10.0) -> None:
        if self.running:
            return
        if not Path(self.binary).exists():
            raise BrokerStartError(f"mosquitto not found at {self.binary}")
        log = open(self._log, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        try:
            self._proc = subprocess.Popen([self.binary, "-c", str(self.layout.config)],
                                          stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            log.close()
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Until the TLS listener completes a handshake (a bare TCP accept is not enough)."""
        context = ssl.create_default_context(cafile=str(self.layout.ca_cert))
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise BrokerStartError(f"mosquitto exited with {self._proc.returncode}: "
                                       f"{self.log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as raw, \
                        context.wrap_socket(raw, server_hostname=self.server_name):
                    return
            except (OSError, ssl.SSLError) as exc:
                last_error = exc
                time.sleep(0.05)
        raise BrokerStartError(f"mosquitto not ready on {self.host}:{self.port} after "
                               f"{timeout:.0f} s ({last_error}); {self.log_tail()}")

    def reload(self) -> None:
        """Have Mosquitto re-read credentials and ACL (it then drops clients no longer
        allowed): a SIGHUP at once, or, when one went out less than
        :data:`RELOAD_SPACING_S` ago, one as soon as that has passed. Either way the
        broker reads the files as they are after this call."""
        with self._reload_lock:
            self._reloads_wanted += 1
            self._reload_target = self._proc
            if self._reloader is None:
                self._reloader = threading.Thread(target=self._send_reloads,
                                                  name="mosquitto-reload", daemon=True)
                self._reloader.start()

    def _send_reloads(self) -> None:
        while True:
            with self._reload_lock:
                if self._reloads_sent == self._reloads_wanted:
                    self._reloader = None
                    return
                self._reloads_sent = self._reloads_wanted
                target = self._reload_target
            # Only the process the change was written for: one started since read the
            # files when it started (and a SIGHUP before its handler is set would kill it).
            if target is not None and target is self._proc and target.poll() is None:
                os.kill(target.pid, signal.SIGHUP)
            time.sleep(RELOAD_SPACING_S)

    def stop(self, timeout: float = 10.0) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def kill(self) -> None:
        """An unclean death (power cut): no persistence flush."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def restart(self, timeout: float = 10.0) -> None:
        self.stop()
        self.start(timeout)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no broker log)"
