"""The ordering rules for documents and commands, over a durable high-water-mark store.

Documents: the same version is a no-op, a lower one is ignored, a higher one replaces.
Commands: valid only in ``[not_before, expiry)`` and only with a counter above the
high-water mark. Positions are ``(epoch, n)`` pairs compared lexicographically, so a
controller restored from an old backup bumps its epoch and is accepted again.
"""

from __future__ import annotations

import threading
from enum import Enum
from typing import Protocol

from .codec import Reason, Rejected
from .messages import Command, DocVersion


class WatermarkStore(Protocol):
    """Durable positions by name. ``put`` must be durable when it returns."""

    def get(self, name: str) -> DocVersion | None: ...

    def put(self, name: str, mark: DocVersion) -> None: ...


class MemoryWatermarks:
    """For the controller side and tests; agents use a durable (SQLite) store."""

    def __init__(self) -> None:
        self._marks: dict[str, DocVersion] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> DocVersion | None:
        with self._lock:
            return self._marks.get(name)

    def put(self, name: str, mark: DocVersion) -> None:
        with self._lock:
            self._marks[name] = mark


class DocumentVerdict(Enum):
    APPLY = "apply"
    UNCHANGED = "unchanged"  # the same version again: a no-op, not an error


def document_mark_name(kind: str) -> str:
    return f"doc:{kind}"


def command_mark_name(agent_id: str) -> str:
    return f"cmd:{agent_id}"


def judge_document(store: WatermarkStore, kind: str,
                   mark: DocVersion) -> DocumentVerdict | Rejected:
    current = store.get(document_mark_name(kind))
    if current is None or mark > current:
        return DocumentVerdict.APPLY
    if mark == current:
        return DocumentVerdict.UNCHANGED
    return Rejected(f"doc/{kind}", Reason.STALE_VERSION,
                    f"{mark.epoch}.{mark.version} < {current.epoch}.{current.version}")


def judge_command(store: WatermarkStore, agent_id: str, epoch: int, command: Command,
                  now_wall_ns: int) -> Rejected | None:
    """None when the command may run; the caller then commits its mark *before* running it."""
    if command.agent_id != agent_id:
        return Rejected("cmd", Reason.WRONG_TARGET, f"for {command.agent_id}")
    current = store.get(command_mark_name(agent_id))
    mark = DocVersion(epoch, command.counter)
    if current is not None and mark <= current:
        return Rejected("cmd", Reason.REPLAYED,
                        f"{epoch}.{command.counter} <= {current.epoch}.{current.version}")
    if now_wall_ns < command.not_before_ns:
        return Rejected("cmd", Reason.NOT_YET_VALID,
                        f"{(command.not_before_ns - now_wall_ns) / 1e9:.1f} s early")
    if now_wall_ns >= command.expires_ns:
        return Rejected("cmd", Reason.EXPIRED,
                        f"{(now_wall_ns - command.expires_ns) / 1e9:.1f} s late")
    return None
