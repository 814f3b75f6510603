"""The relay itself: forwarding, counting, delay, bandwidth, partitions, cuts."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.support.netem import relay_to


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    def echo(conn: socket.socket) -> None:
        with conn, contextlib.suppress(ConnectionError):
            while data := conn.recv(65536):
                conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port
    stop.set()
    thread.join()
    server.close()


def roundtrip(port: int, payload: bytes, timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        received = b""
        while len(received) < len(payload):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def test_forwards_and_counts_both_directions(echo_port: int) -> None:
    with relay_to(echo_port) as relay:
        assert roundtrip(relay.port, b"x" * 100_000) == b"x" * 100_000
        time.sleep(0.05)
        assert relay.bytes_up == 100_000 and relay.bytes_down == 100_000


def test_delay_is_applied(echo_port: int) -> None:
    with relay_to(echo_port, delay_s=0.15) as relay:
        start = time.monotonic()
        roundtrip(relay.port, b"ping")
        assert time.monotonic() - start >= 0.3  # both directions


def test_bandwidth_cap_limits_throughput(echo_port: int) -> None:
    with relay_to(echo_port, bandwidth_bps=200_000) as relay:
        start = time.monotonic()
        roundtrip(relay.port, b"y" * 100_000)
        assert time.monotonic() - start >= 0.45  # 100 kB at 200 kB/s, each way overlapped


def test_blackhole_partition_stalls_then_heals(echo_port: int) -> None:
    with relay_to(echo_port) as relay:
        sock = socket.create_connection(("127.0.0.1", relay.port), timeout=0.5)
        sock.sendall(b"a")
        assert sock.recv(10) == b"a"
        relay.partition("blackhole")
        sock.sendall(b"b")
        with pytest.raises(TimeoutError):
            sock.recv(10)
        relay.heal()
        sock.settimeout(5)
        assert sock.recv(10) == b"b"
        sock.close()


def test_reset_partition_closes_and_refuses(echo_port: int) -> None:
    with relay_to(echo_port) as relay:
        with socket.create_connection(("127.0.0.1", relay.port), timeout=2) as sock:
            sock.sendall(b"a")
            assert sock.recv(10) == b"a"
            relay.partition("reset")
            time.sleep(0.1)
            with pytest.raises((ConnectionError, OSError)):
                sock.sendall(b"b")
                if not sock.recv(10):
                    raise ConnectionResetError
        relay.heal()
        assert roundtrip(relay.port, b"again") == b"again"


def test_cut_after_bytes(echo_port: int) -> None:
    with relay_to(echo_port) as relay:
        relay.cut_after(50_000)
        received = roundtrip(relay.port, b"z" * 200_000)
        assert 50_000 <= len(received) < 200_000
