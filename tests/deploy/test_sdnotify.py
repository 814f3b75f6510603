"""sd_notify against real AF_UNIX datagram sockets, as systemd provides them."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from protocols.sdnotify import Notifier


@pytest.fixture
def path_socket(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    address = str(tmp_path / "notify")
    sock.bind(address)
    sock.settimeout(2)
    yield address, sock
    sock.close()


def test_ready_watchdog_status_stopping_arrive(path_socket: tuple[str, socket.socket]) -> None:
    address, sock = path_socket
    notifier = Notifier({"NOTIFY_SOCKET": address})
    assert notifier.enabled and notifier.ready("journal 3 records")
    ready = sock.recv(4096).decode().split("\n")
    assert ready[0] == "READY=1" and f"MAINPID={os.getpid()}" in ready
    assert "STATUS=journal 3 records" in ready
    assert notifier.watchdog() and sock.recv(4096) == b"WATCHDOG=1"
    assert notifier.status("line one\nline two") and sock.recv(4096) == \
        b"STATUS=line one line two"
    assert notifier.stopping() and sock.recv(4096) == b"STOPPING=1"
    assert notifier.sent == 4


def test_abstract_namespace_sockets() -> None:
    name = f"loaxa-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(2)
    try:
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).watchdog()
        assert sock.recv(4096) == b"WATCHDOG=1"
    finally:
        sock.close()


def test_without_systemd_nothing_is_sent_and_nothing_fails(tmp_path: Path) -> None:
    assert not Notifier({}).ready() and not Notifier({}).enabled
    gone = Notifier({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})
    assert gone.enabled and not gone.watchdog() and gone.failures == 1
    assert not Notifier({"NOTIFY_SOCKET": "vsock:2:1234"}).enabled


def test_watchdog_interval_from_the_environment() -> None:
    assert Notifier({"WATCHDOG_USEC": "60000000"}).watchdog_s == 60.0
    assert Notifier({"WATCHDOG_USEC": "60000000",
                     "WATCHDOG_PID": str(os.getpid())}).watchdog_s == 60.0
    assert Notifier({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "1"}).watchdog_s is None
    assert Notifier({"WATCHDOG_USEC": "soon"}).watchdog_s is None
    assert Notifier({"WATCHDOG_USEC": "0"}).watchdog_s is None
    assert Notifier({}).watchdog_s is None
