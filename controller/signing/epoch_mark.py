"""The highest signing epoch each commune has reached, kept in a file outside the database.

Agents order everything the controller signs by ``(epoch, n)``. A restore brings back a
database whose epoch agents may already have seen, and replaces the only record of the
epochs used since; PostgreSQL restores (``pg_restore``) replace it before loaxa is even
asked. This small file in the data directory survives them: the daemon records its
epoch before it signs anything, every bump records the new epoch *before* the database
gets it, and a bump always goes above what the file says. A lost or damaged file is
replaced by the operator's word (``--epoch-above``), never silently ignored.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from controller.i18n import N_
from controller.registry.errors import Invalid


@dataclass(frozen=True)
class EpochMark:
    path: Path

    def read(self) -> dict[str, int]:
        """``{commune: highest epoch}``; empty when the file does not exist yet."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise self._damaged(str(exc)) from None
        try:
            epochs = json.loads(text)["epochs"]
            if not isinstance(epochs, dict) or not all(
                    isinstance(k, str) and type(v) is int and 1 <= v < 2**31
                    for k, v in epochs.items()):
                raise ValueError("epochs must map commune keys to positive 32-bit integers")
        except (ValueError, KeyError, TypeError) as exc:
            raise self._damaged(str(exc)) from None
        return dict(epochs)

    def raise_to(self, epochs: Mapping[str, int]) -> dict[str, int]:
        """Record ``epochs`` (never lowering one already recorded), durably: written to a
        new file, fsynced, renamed over the old one, and the directory fsynced."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._locked():
            current = self.read()
            merged = {**current, **{k: max(v, current.get(k, 0)) for k, v in epochs.items()}}
            if merged != current:
                self._write(merged)
            return merged

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time (the daemon starting while an operator bumps)."""
        fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _write(self, epochs: dict[str, int]) -> None:
        body = json.dumps({"epochs": dict(sorted(epochs.items()))}, indent=1).encode()
        partial = self.path.with_name(f".{self.path.name}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(body + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def _damaged(self, error: str) -> Invalid:
        return Invalid(N_("The record of signing epochs {path} cannot be read ({error}). "
                          "Move it aside and give --epoch-above with the highest signing "
                          "epoch agents may have seen."), path=str(self.path), error=error)
