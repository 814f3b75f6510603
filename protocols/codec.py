"""Encoding and guarded decoding of wire messages.

A decoder never lets an exception escape: hostile or broken input comes back as a
``Rejected`` value with a reason, and is counted, so an agent keeps running and its
telemetry can say what it has been refusing.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

import msgspec

T = TypeVar("T")

_encoder = msgspec.msgpack.Encoder()


def encode(message: Any) -> bytes:
    """The canonical bytes of a message (msgspec's msgpack encoding is deterministic)."""
    return _encoder.encode(message)


class Reason(StrEnum):
    """Why an incoming message was refused. Each is distinct in logs and counters."""

    OVERSIZE = "oversize"
    MALFORMED = "malformed"  # not msgpack, or not the shape of any version
    UNKNOWN_VERSION = "unknown_version"
    INVALID = "invalid"  # a known version with wrong types or values out of range
    UNKNOWN_TOPIC = "unknown_topic"
    UNKNOWN_KEY = "unknown_key"
    REVOKED_KEY = "revoked_key"
    BAD_SIGNATURE = "bad_signature"
    READDRESSED = "readdressed"  # authentic, but signed for another topic
    STALE_VERSION = "stale_version"  # a document older than the one applied
    REPLAYED = "replayed"  # a command counter at or below the high-water mark
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    WRONG_TARGET = "wrong_target"  # addressed to another agent or commune


@dataclass(frozen=True, slots=True)
class Rejected:
    """A refused message: what kind it claimed to be, why, and a short detail for logs."""

    kind: str
    reason: Reason
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind}: {self.reason.value}" + (f" ({self.detail})" if self.detail else "")


class RejectionCounter:
    """Thread-safe tally of refusals by ``kind/reason`` (reported in telemetry)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def count(self, rejected: Rejected) -> Rejected:
        with self._lock:
            self._counts[f"{rejected.kind}/{rejected.reason.value}"] += 1
        return rejected

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())


_peek = msgspec.msgpack.Decoder(list[msgspec.Raw])


class Decoder(Generic[T]):
    """Decodes one message kind with a size cap; returns the message or a ``Rejected``."""

    def __init__(self, kind: str, type_: Any, max_bytes: int,
                 counter: RejectionCounter | None = None,
                 known_versions: frozenset[int] | None = None) -> None:
        self.kind = kind
        self.max_bytes = max_bytes
        self._decoder: msgspec.msgpack.Decoder[T] = msgspec.msgpack.Decoder(type_)
        self._counter = counter if counter is not None else RejectionCounter()
        self._versions = known_versions if known_versions is not None else _versions_of(type_)

    def decode(self, data: bytes | bytearray | memoryview) -> T | Rejected:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            return self._reject(Reason.MALFORMED, f"payload is {type(data).__name__}")
        if len(data) > self.max_bytes:
            return self._reject(Reason.OVERSIZE, f"{len(data)} > {self.max_bytes} bytes")
        try:
            return self._decoder.decode(data)
        except msgspec.ValidationError as exc:
            return self._classify(data, exc)
        except (msgspec.DecodeError, ValueError, TypeError, OverflowError,
                RecursionError, MemoryError) as exc:
            return self._reject(Reason.MALFORMED, _short(exc))

    def _classify(self, data: bytes | bytearray | memoryview,
                  exc: msgspec.ValidationError) -> Rejected:
        """Tell an unknown schema version apart from a known one carrying bad values."""
        try:
            head = _peek.decode(data)
            version = msgspec.msgpack.decode(head[0]) if head else None
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError, TypeError,
                OverflowError, RecursionError):
            return self._reject(Reason.MALFORMED, _short(exc))
        if self._versions and isinstance(version, int) and not isinstance(version, bool) \
                and version not in self._versions:
            return self._reject(Reason.UNKNOWN_VERSION, f"version {version}")
        if not self._versions or isinstance(version, int):
            return self._reject(Reason.INVALID, _short(exc))
        return self._reject(Reason.MALFORMED, _short(exc))

    def _reject(self, reason: Reason, detail: str) -> Rejected:
        return self._counter.count(Rejected(self.kind, reason, detail))


def _versions_of(type_: Any) -> frozenset[int]:
    """The integer tags (schema versions) a struct type or union of structs accepts."""
    members = getattr(type_, "__args__", None) or (type_,)
    tags = set()
    for member in members:
        config = getattr(member, "__struct_config__", None)
        if config is not None and isinstance(config.tag, int):
            tags.add(config.tag)
    return frozenset(tags)


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
