"""Running Mosquitto as a child process: the embedded broker of `loaxa demo`, of a
controller with no broker configured, and of the test suite."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

from .files import BrokerLayout


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
        """Re-read credentials and ACL; Mosquitto then drops clients no longer allowed."""
        if self._proc is not None and self.running:
            os.kill(self._proc.pid, signal.SIGHUP)

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
