"""sd_notify: telling systemd that a service is ready, alive, busy or stopping.

Both long-running loaxa services (the controller and the village agent) run as
``Type=notify`` units with a ``WatchdogSec=``: systemd considers them started only once
they say ``READY=1`` and restarts them when ``WATCHDOG=1`` stops arriving. The protocol is
one datagram of newline-separated ``KEY=value`` lines sent to the ``AF_UNIX`` socket named
in ``NOTIFY_SOCKET`` (a leading ``@`` names an abstract-namespace socket). It is spoken
here directly, with the stdlib, so neither side needs libsystemd or a binding for it.

Nothing in here raises: a service that cannot reach systemd keeps running and logs why.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger("loaxa.sdnotify")

MAX_STATUS_CHARS = 200  # systemd shows STATUS= in one line of `systemctl status`


def _address(raw: str) -> str | bytes | None:
    """The socket address for ``NOTIFY_SOCKET``: a path, or ``\\0name`` for ``@name``."""
    if raw.startswith("@"):
        return b"\0" + raw[1:].encode()
    if raw.startswith("/"):
        return raw
    return None  # vsock addresses and relative paths are not used by loaxa


class Notifier:
    """Sends sd_notify messages when run by systemd, and does nothing otherwise.

    ``environ`` defaults to ``os.environ`` and is read once, at construction: systemd
    sets ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and (optionally) ``WATCHDOG_PID`` before
    the service starts, and never changes them.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        raw = env.get("NOTIFY_SOCKET", "")
        self._address = _address(raw) if raw else None
        if raw and self._address is None:
            log.warning("ignoring unsupported NOTIFY_SOCKET %r", raw)
        self._watchdog_s = _watchdog_interval(env)
        self._sock: socket.socket | None = None
        self.sent = 0
        self.failures = 0

    @property
    def enabled(self) -> bool:
        """True when there is a notification socket to talk to."""
        return self._address is not None

    @property
    def watchdog_s(self) -> float | None:
        """The unit's ``WatchdogSec=`` in seconds when it applies to this process."""
        return self._watchdog_s

    def notify(self, *lines: str) -> bool:
        """Send ``KEY=value`` lines in one datagram; True when systemd got it."""
        if self._address is None:
            return False
        message = "\n".join(line.replace("\n", " ") for line in lines).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(message, self._address)
        except OSError as exc:
            self.failures += 1
            log.warning("sd_notify failed: %s", exc)
            self.close()
            return False
        self.sent += 1
        return True

    def ready(self, status: str | None = None) -> bool:
        lines = ["READY=1", f"MAINPID={os.getpid()}"]
        if status:
            lines.append(_status(status))
        return self.notify(*lines)

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.notify(_status(text))

    def stopping(self, status: str | None = None) -> bool:
        return self.notify("STOPPING=1", *([_status(status)] if status else []))

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None


def _status(text: str) -> str:
    return "STATUS=" + text.replace("\n", " ")[:MAX_STATUS_CHARS]


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    """``WATCHDOG_USEC`` in seconds, or None when unset, invalid, or meant for another PID."""
    usec = env.get("WATCHDOG_USEC", "")
    if not usec:
        return None
    pid = env.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None
    try:
        value = int(usec)
    except ValueError:
        log.warning("ignoring invalid WATCHDOG_USEC %r", usec)
        return None
    return value / 1e6 if value > 0 else None
