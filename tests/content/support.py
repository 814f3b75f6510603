"""Real parts for the content tests: keys, a library on disk, the service, fetchers."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import zmq
import zmq.utils.z85

from agent.cache import Cache
from agent.fetcher import FetchConfig, Fetcher
from agent.identity import CurveIdentity
from controller.dataplane.content_service import ContentService, ServiceLimits

BULLETIN_BYTES = 1_800_000  # ten minutes of 24 kbit/s Opus

FAST = FetchConfig(send_timeout_ms=500, connect_timeout_s=5.0, reply_timeout_s=3.0,
                   queued_timeout_s=10.0, backoff_initial_s=0.2, backoff_max_s=2.0,
                   not_found_retry_s=1.0, denied_retry_s=0.5, reconnect_ivl_ms=100,
                   reconnect_max_ms=500, idle_close_s=5.0)
UNCAPPED = ServiceLimits(egress_bytes_per_s=None, queued_notice_s=1.0)


def new_identity() -> CurveIdentity:
    public, secret = zmq.curve_keypair()
    return CurveIdentity(zmq.utils.z85.decode(public), zmq.utils.z85.decode(secret))


class KeySet:
    """An authoriser backed by a set (what the integrator builds from the database)."""

    def __init__(self, *keys: bytes) -> None:
        self.allowed = set(keys)
        self._lock = threading.Lock()

    def __call__(self, public_key: bytes) -> bool:
        with self._lock:
            return public_key in self.allowed

    def revoke(self, key: bytes) -> None:
        with self._lock:
            self.allowed.discard(key)

    def enrol(self, key: bytes) -> None:
        with self._lock:
            self.allowed.add(key)


class Library:
    """Files named by their sha256, like the controller's content-addressed store."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def add(self, size: int = BULLETIN_BYTES, data: bytes | None = None) -> bytes:
        data = os.urandom(size) if data is None else data
        sha = hashlib.sha256(data).digest()
        (self.root / sha.hex()).write_bytes(data)
        return sha

    def locate(self, sha: bytes) -> Path | None:
        path = self.root / sha.hex()
        return path if path.exists() else None


class Alerts:
    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes, bytes, str]] = []
        self._lock = threading.Lock()

    def __call__(self, kind: str, agent: bytes, content: bytes, detail: str) -> None:
        with self._lock:
            self.seen.append((kind, agent, content, detail))

    def kinds(self) -> list[tuple[str, bytes, bytes]]:
        with self._lock:
            return [(kind, agent, content) for kind, agent, content, _ in self.seen]


@contextmanager
def content_service(library: Library, is_allowed: Callable[[bytes], bool], *,
                    limits: ServiceLimits = UNCAPPED,
                    on_alert: Callable[[str, bytes, bytes, str], None] | None = None,
                    ) -> Iterator[ContentService]:
    _, secret = zmq.curve_keypair()
    service = ContentService(secret, is_allowed, library.locate, endpoint="tcp://127.0.0.1:0",
                             limits=limits, on_alert=on_alert)
    with service:
        yield service


@contextmanager
def fetcher(port: int, service: ContentService, identity: CurveIdentity, cache: Cache,
            config: FetchConfig = FAST, context: zmq.Context[Any] | None = None,
            ) -> Iterator[Fetcher]:
    client = Fetcher(f"tcp://127.0.0.1:{port}", service.public_key, identity, cache,
                     config=config, context=context)
    with client:
        yield client


def air_in(seconds: float) -> int:
    return time.time_ns() + int(seconds * 1e9)


def wait_until(predicate: Callable[[], bool], timeout_s: float = 20.0,
               every_s: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every_s)
    return predicate()


def cached_intact(cache: Cache, sha: bytes) -> bool:
    """Cached, and the bytes under the final name really hash to it (end-to-end check)."""
    path = cache.path(sha)
    return path is not None and hashlib.sha256(path.read_bytes()).digest() == sha
