"""Stopping the real processes tests start (agents, controllers): the same two ways a
box or systemd stops them."""

from __future__ import annotations

import signal
import subprocess
from typing import Any


def kill9(proc: subprocess.Popen[Any] | None) -> None:
    """A crash or a power cut: no handler runs."""
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)


def stop(proc: subprocess.Popen[Any], timeout: float) -> int:
    """SIGTERM (an orderly stop), then its exit code; killed if it hangs past ``timeout``
    (and the hang raised)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        raise
