"""The content-addressed store: each processed item is a file named by its sha256.

The name is the content's identity everywhere (plans list it, agents fetch and verify
it), so the same audio imported twice is one file. Files appear whole or not at all:
they are written under ``.staging/``, flushed to disk, then renamed into place, and the
directory is flushed too, because a station loses power more often than it is shut
down. A refused or failed import leaves nothing behind.

Layout: ``<root>/<first two hex digits>/<sha256>.opus``, so no directory grows past a
few thousand entries.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from protocols.clock import Clock, SystemClock

from .errors import ContentNotFound, InvalidContentId

log = logging.getLogger("loaxa.library")

SUFFIX = ".opus"
STAGING = ".staging"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class StoredContent:
    sha256: str
    size_bytes: int
    path: Path
    created: bool  # False: the identical content was already stored


def file_digest(path: Path) -> tuple[str, int]:
    """sha256 (hex) and size of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ContentStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.staging_dir = self.root / STAGING
        self.staging_dir.mkdir(parents=True, exist_ok=True)

    # -- writing ---------------------------------------------------------------------
    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A fresh path on the store's file system for a writer; removed on the way out
        unless ``put`` has taken it."""
        path = self.staging_dir / f"{uuid.uuid4().hex}.tmp"
        try:
            yield path
        finally:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def put(self, staged: Path) -> StoredContent:
        """Move a finished file from staging into place under its sha256."""
        _fsync_file(staged)
        sha, size = file_digest(staged)
        final = self.path_of(sha)
        if final.exists() and file_digest(final)[0] == sha:
            staged.unlink()
            return StoredContent(sha, size, final, created=False)
        if not final.parent.exists():
            final.parent.mkdir(exist_ok=True)
            _fsync_dir(self.root)
        os.chmod(staged, 0o644)
        os.replace(staged, final)
        _fsync_dir(final.parent)
        log.info("stored %s (%d bytes)", sha, size)
        return StoredContent(sha, size, final, created=True)

    def put_bytes(self, data: bytes) -> StoredContent:
        with self.staging() as staged:
            with staged.open("wb") as handle:
                handle.write(data)
            return self.put(staged)

    # -- reading ---------------------------------------------------------------------
    def path_of(self, sha256: str) -> Path:
        if not isinstance(sha256, str) or not _SHA256.match(sha256):
            raise InvalidContentId(str(sha256)[:80])
        return self.root / sha256[:2] / f"{sha256}{SUFFIX}"

    def __contains__(self, sha256: object) -> bool:
        return isinstance(sha256, str) and bool(_SHA256.match(sha256)) \
            and self.path_of(sha256).is_file()

    def open(self, sha256: str) -> BinaryIO:
        try:
            return self.path_of(sha256).open("rb")
        except FileNotFoundError as exc:
            raise ContentNotFound(sha256) from exc

    def size_of(self, sha256: str) -> int:
        try:
            return self.path_of(sha256).stat().st_size
        except FileNotFoundError as exc:
            raise ContentNotFound(sha256) from exc

    def __iter__(self) -> Iterator[str]:
        """Every stored content id, in sorted order."""
        for folder in sorted(self.root.iterdir()):
            if folder.name == STAGING or not folder.is_dir():
                continue
            for item in sorted(folder.glob(f"*{SUFFIX}")):
                sha = item.name[:-len(SUFFIX)]
                if _SHA256.match(sha) and sha.startswith(folder.name):
                    yield sha

    # -- integrity and removal ---------------------------------------------------------
    def verify(self, sha256: str) -> bool:
        """True when the stored bytes still hash to their name."""
        path = self.path_of(sha256)
        try:
            return file_digest(path)[0] == sha256
        except FileNotFoundError as exc:
            raise ContentNotFound(sha256) from exc

    def verify_all(self) -> list[str]:
        """Content ids whose bytes no longer match their name (bit rot, a bad disk)."""
        return [sha for sha in self if not self.verify(sha)]

    def delete(self, sha256: str) -> bool:
        """Remove an item; False when it was not there. The caller checks it is unused."""
        path = self.path_of(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        _fsync_dir(path.parent)
        with contextlib.suppress(OSError):
            path.parent.rmdir()  # only succeeds when empty
        log.info("deleted %s", sha256)
        return True

    def sweep_staging(self, older_than_s: float = 24 * 3600.0,
                      clock: Clock | None = None) -> int:
        """Remove staging leftovers of imports a power cut interrupted.

        Only old ones: a younger file may belong to an import running right now.
        """
        removed = 0
        cutoff = (clock or SystemClock()).wall_ns() / 1e9 - older_than_s
        for leftover in self.staging_dir.glob("*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()
                    removed += 1
        return removed
