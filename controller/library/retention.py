"""When a stored file may go: no row names it, and no import could be about to.

The store is shared by every commune of the database, and an import finds out only at
its very end that its audio was already stored (``ContentStore.put`` keeps the existing
file). Were a deletion of that content to remove the file between that moment and the
import's new row, the row would point at nothing. So file removal waits while imports
are in flight: a deleted item's file is set aside ("doomed") and removed once no import
is running, if still no row names it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator

from .store import ContentStore

log = logging.getLogger("loaxa.library")

Referenced = Callable[[str], bool]


class FileKeeper:
    def __init__(self, store: ContentStore, referenced: Referenced) -> None:
        self.store = store
        self._referenced = referenced
        self._lock = threading.RLock()
        self._in_flight = 0
        self._doomed: set[str] = set()

    @contextlib.contextmanager
    def importing(self) -> Iterator[None]:
        """Wrap an import *and* the recording of its row."""
        with self._lock:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
                if self._in_flight == 0:
                    self._sweep()

    @contextlib.contextmanager
    def deciding(self) -> Iterator[None]:
        """Hold while reading or changing rows that decide a file's fate (a delete, the
        row of a finished import), so decisions do not interleave."""
        with self._lock:
            yield

    def release(self, sha256: str) -> bool:
        """A row naming ``sha256`` was deleted: remove the file if nothing needs it.
        True when the file was removed now."""
        with self._lock:
            if self._in_flight:
                self._doomed.add(sha256)
                return False
            return self._remove_if_unreferenced(sha256)

    def _sweep(self) -> None:
        doomed, self._doomed = self._doomed, set()
        for sha256 in doomed:
            self._remove_if_unreferenced(sha256)

    def _remove_if_unreferenced(self, sha256: str) -> bool:
        try:
            if self._referenced(sha256):
                return False
            return self.store.delete(sha256)
        except Exception:  # the database or the disk: keep the file, say so
            log.exception("could not decide whether to remove %s; keeping it", sha256)
            return False
