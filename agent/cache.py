"""The agent's content cache: audio items on disk, named by their sha256.

An agent airs from this cache, never from the link (DESIGN principle 1), for years,
through power cuts and full disks. So:

* a file under its final name is always complete and verified: items arrive through a
  temporary or partial file that is fsynced and then renamed (an atomic step on POSIX),
  and the directory is fsynced so the rename survives a power cut;
* at start every item is hashed against its name; a file that does not match (a bad SD
  card sector, a crash in the wrong place) is removed, so the fetcher gets it again;
* the size quota is enforced by evicting least-recently-used items, but never one that a
  document still needs. When the needed items alone exceed the quota they are kept
  anyway — an item that is needed must air — as long as the filesystem keeps
  ``min_free_bytes`` free for the journal; the telemetry then shows bytes above quota.

Last use is the file's mtime (touched when an item is handed to playout), so the LRU
order survives restarts without an index file. Stdlib only: the agent stays lean.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import secrets
import shutil
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from protocols.clock import Clock, SystemClock
from protocols.messages import CacheState

log = logging.getLogger("loaxa.agent.cache")

_NAME = re.compile(r"^[0-9a-f]{64}$")
_PARTIAL = re.compile(r"^([0-9a-f]{64})\.part$")
_READ_BYTES = 1 << 20
DEFAULT_MIN_FREE_BYTES = 64 * 1024 * 1024
_U32_MAX = 2**32 - 1
_U64_MAX = 2**63 - 1

Listener = Callable[[bytes], None]
"""Called with an item's sha256 when the cache lost it (corrupt file removed)."""


class IntegrityError(Exception):
    """Bytes offered to the cache do not hash to the name they were offered under."""


@dataclass(frozen=True)
class _Entry:
    size: int
    last_used_ns: int


def sha256_of_file(path: Path) -> bytes:
    """The sha256 of a file, read in 1 MiB blocks (a Pi has little memory to spare)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_READ_BYTES):
            digest.update(block)
    return digest.digest()


def fsync_directory(path: Path) -> None:
    """Make a rename or unlink in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Cache:
    """Content-addressed items under ``root/items``; partial fetches under ``root/partial``.

    Thread-safe: the fetcher writes while playout reads and the agent service updates
    what the documents need.
    """

    def __init__(self, root: Path, quota_bytes: int, *, clock: Clock | None = None,
                 min_free_bytes: int = DEFAULT_MIN_FREE_BYTES,
                 verify_at_start: bool = True) -> None:
        if quota_bytes <= 0:
            raise ValueError("the cache quota must be positive")
        self.root = root
        self.quota_bytes = quota_bytes
        self.min_free_bytes = min_free_bytes
        self._clock = clock if clock is not None else SystemClock()
        self._items_dir = root / "items"
        self._partial_dir = root / "partial"
        self._tmp_dir = root / "tmp"
        for folder in (self._items_dir, self._partial_dir, self._tmp_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._entries: dict[bytes, _Entry] = {}
        self._needed: frozenset[bytes] = frozenset()
        self._listeners: list[Listener] = []
        self.corrupt_removed = 0
        self.evicted = 0
        self._scan(verify=verify_at_start)

    # ------------------------------------------------------------------ start-up
    def _scan(self, *, verify: bool) -> None:
        """Index the items; with ``verify``, remove every file whose bytes fail its name."""
        for stray in self._tmp_dir.iterdir():  # a write interrupted by a crash
            _unlink(stray)
        for path in self._partial_dir.iterdir():
            if not _PARTIAL.match(path.name) or not path.is_file():
                _unlink(path)
        removed: list[bytes] = []
        for path in sorted(self._items_dir.iterdir()):
            if not _NAME.match(path.name) or not path.is_file():
                log.warning("removing %s from the cache: not an item", path.name)
                _unlink(path)
                continue
            sha = bytes.fromhex(path.name)
            if verify and not self._matches(path, sha):
                log.warning("cache item %s is corrupt; removed, it will be fetched again",
                            path.name)
                _unlink(path)
                removed.append(sha)
                continue
            stat = path.stat()
            self._entries[sha] = _Entry(stat.st_size, stat.st_mtime_ns)
        if removed:
            fsync_directory(self._items_dir)
            self.corrupt_removed += len(removed)

    def check_integrity(self) -> list[bytes]:
        """Hash every item now; remove and return the corrupt ones (listeners are told)."""
        with self._lock:
            shas = list(self._entries)
        return [sha for sha in shas if not self.verify(sha)]

    # ------------------------------------------------------------------ reading
    def has(self, sha: bytes) -> bool:
        with self._lock:
            return sha in self._entries

    def size_of(self, sha: bytes) -> int | None:
        with self._lock:
            entry = self._entries.get(sha)
            return entry.size if entry else None

    def items(self) -> dict[bytes, int]:
        """Every cached item and its size."""
        with self._lock:
            return {sha: entry.size for sha, entry in self._entries.items()}

    def path(self, sha: bytes, *, verify: bool = False) -> Path | None:
        """The file to air ``sha`` from, marked as just used; ``None`` when not cached.

        With ``verify`` the bytes are hashed first (a few ms for a bulletin): a corrupt
        file is removed, listeners are told, and ``None`` comes back, so playout never
        airs damaged audio and the fetcher gets the item again.
        """
        if verify and not self.verify(sha):
            return None
        with self._lock:
            entry = self._entries.get(sha)
            if entry is None:
                return None
            now = self._clock.wall_ns()
            self._entries[sha] = _Entry(entry.size, now)
            path = self._item_path(sha)
        with contextlib.suppress(OSError):
            os.utime(path, ns=(now, now))
        return path

    def verify(self, sha: bytes) -> bool:
        """True when ``sha`` is cached and intact; a corrupt file is removed."""
        with self._lock:
            if sha not in self._entries:
                return False
            path = self._item_path(sha)
        if self._matches(path, sha):
            return True
        log.warning("cache item %s is corrupt; removed, it will be fetched again", sha.hex())
        with self._lock:
            self._drop(sha)
            self.corrupt_removed += 1
        self._notify(sha)
        return False

    # ------------------------------------------------------------------ writing
    def put(self, sha: bytes, data: bytes) -> Path:
        """Store ``data`` under ``sha`` atomically (temp + fsync + rename + dir fsync)."""
        if hashlib.sha256(data).digest() != sha:
            raise IntegrityError(f"bytes do not hash to {sha.hex()}")
        tmp = self._tmp_dir / f"{sha.hex()}.{secrets.token_hex(4)}.tmp"
        try:
            with tmp.open("xb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            return self._install(sha, tmp)
        finally:
            _unlink(tmp)

    def partial_path(self, sha: bytes) -> Path:
        """Where the fetcher appends ``sha`` while it arrives (never the final name)."""
        return self._partial_dir / f"{sha.hex()}.part"

    def partial_size(self, sha: bytes) -> int:
        try:
            return self.partial_path(sha).stat().st_size
        except FileNotFoundError:
            return 0

    def discard_partial(self, sha: bytes) -> None:
        _unlink(self.partial_path(sha))

    def commit_partial(self, sha: bytes, digest: bytes) -> Path:
        """Move a complete partial file to its final name once its ``digest`` matches.

        The fetcher hashes as it writes and hands the digest over, so a 1.8 MB item is
        not read back a second time. The partial is fsynced before the rename.
        """
        partial = self.partial_path(sha)
        if digest != sha:
            _unlink(partial)
            raise IntegrityError(f"fetched bytes hash to {digest.hex()}, not {sha.hex()}")
        fd = os.open(partial, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        path = self._install(sha, partial)
        fsync_directory(self._partial_dir)
        return path

    def _install(self, sha: bytes, source: Path) -> Path:
        final = self._item_path(sha)
        size = source.stat().st_size
        now = self._clock.wall_ns()
        with contextlib.suppress(OSError):
            os.utime(source, ns=(now, now))
        os.replace(source, final)
        fsync_directory(self._items_dir)
        with self._lock:
            self._entries[sha] = _Entry(size, now)
            self._evict_locked(0, keep=sha)
        return final

    # ------------------------------------------------------------------ quota
    def set_needed(self, shas: Iterable[bytes]) -> list[bytes]:
        """What the documents need now; evicts unneeded items if above quota."""
        with self._lock:
            self._needed = frozenset(shas)
            return self._evict_locked(0)

    def needed(self) -> frozenset[bytes]:
        with self._lock:
            return self._needed

    def make_room(self, sha: bytes, size: int) -> bool:
        """Make space for ``sha`` (``size`` bytes in all) before fetching it.

        Evicts unneeded partials and least-recently-used unneeded items until the item
        fits the quota. If it still does not fit (the needed items alone exceed the
        quota) it is allowed only when the filesystem keeps ``min_free_bytes`` free.
        """
        with self._lock:
            self._evict_locked(size, keep=sha)
            if self._used_locked(exclude=sha) + size <= self.quota_bytes:
                return True
            still_to_write = max(0, size - self.partial_size(sha))
        free = shutil.disk_usage(self.root).free
        fits = free - still_to_write >= self.min_free_bytes
        if fits:
            log.warning("needed content exceeds the cache quota of %d bytes; keeping it",
                        self.quota_bytes)
        return fits

    def remove(self, sha: bytes) -> None:
        with self._lock:
            self._drop(sha)

    def _evict_locked(self, incoming: int, keep: bytes | None = None) -> list[bytes]:
        evicted: list[bytes] = []
        if self._used_locked(exclude=keep) + incoming <= self.quota_bytes:
            return evicted
        for path in list(self._partial_dir.iterdir()):  # unneeded half-fetched items first
            match = _PARTIAL.match(path.name)
            sha = bytes.fromhex(match.group(1)) if match else None
            if sha is not None and sha not in self._needed and sha != keep:
                _unlink(path)
        victims = sorted((entry.last_used_ns, sha) for sha, entry in self._entries.items()
                         if sha not in self._needed and sha != keep)
        for _, sha in victims:
            if self._used_locked(exclude=keep) + incoming <= self.quota_bytes:
                break
            self._drop(sha)
            evicted.append(sha)
            log.info("evicted %s from the cache (least recently used, not needed)",
                     sha.hex())
        self.evicted += len(evicted)
        return evicted

    def _used_locked(self, exclude: bytes | None = None) -> int:
        used = sum(entry.size for entry in self._entries.values())
        for path in self._partial_dir.iterdir():
            if exclude is not None and path.name == f"{exclude.hex()}.part":
                continue
            with contextlib.suppress(OSError):
                used += path.stat().st_size
        return used

    def _drop(self, sha: bytes) -> None:
        if self._entries.pop(sha, None) is not None:
            _unlink(self._item_path(sha))
            with contextlib.suppress(OSError):
                fsync_directory(self._items_dir)

    # ------------------------------------------------------------------ telemetry
    def state(self) -> CacheState:
        """Items, bytes, quota and how many needed items are not cached yet."""
        with self._lock:
            total = sum(entry.size for entry in self._entries.values())
            missing = sum(1 for sha in self._needed if sha not in self._entries)
            return CacheState(items=min(len(self._entries), _U32_MAX),
                              bytes=min(total, _U64_MAX),
                              quota_bytes=min(self.quota_bytes, _U64_MAX),
                              missing=min(missing, _U32_MAX))

    def subscribe(self, listener: Listener) -> None:
        """Be told when an item is lost (so the fetcher can fetch it again)."""
        with self._lock:
            self._listeners.append(listener)

    def _notify(self, sha: bytes) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(sha)
            except Exception:  # a listener's bug must not break reading the cache
                log.exception("a cache listener failed")

    # ------------------------------------------------------------------ helpers
    def _item_path(self, sha: bytes) -> Path:
        return self._items_dir / sha.hex()

    @staticmethod
    def _matches(path: Path, sha: bytes) -> bool:
        try:
            return sha256_of_file(path) == sha
        except OSError:
            return False


def _unlink(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
