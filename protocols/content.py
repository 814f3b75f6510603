"""Content pre-distribution frames: the agent fetches audio items from the controller.

Airing must never depend on the link (DESIGN principle 1), so every item a plan, a pin
list or an emergency names is copied onto the agent long before air time, once, and
cached (principle 6). The transfer runs over a CURVE-encrypted ZeroMQ DEALER (agent,
dialling out through carrier NAT) / ROUTER (controller) pair, one msgpack frame per
message. This module holds the wire only; the sockets live in
``controller.dataplane.content_service`` and ``agent.fetcher``.

The exchange, for one item named by its sha256::

    agent   -> Fetch(content, offset, window, need_by)   start, or resume at ``offset``
    service -> Status(QUEUED, position)                   when it cannot start yet
    service -> Chunk(content, size, offset, data) ...     at most ``window`` chunks ahead
    agent   -> Credit(content, written)                   as it writes: more credit
    service -> Status(NOT_FOUND | BUSY | DENIED | BAD_RANGE)   explicit refusals
    agent   -> Cancel(content)                            a document no longer needs it

*Credit* is absolute: the service may send bytes below ``written + window * CHUNK_BYTES``.
A lost, repeated or reordered ``Credit`` is therefore harmless, and no ledger of granted
chunks can drift between the two ends. *Resume* needs no server-side state either: after
any disconnect the agent sends a fresh ``Fetch`` from the size of its partial file, and
every chunk names its item, size and offset, so a stray chunk from an abandoned request
is recognised and dropped. The agent verifies the sha256 of the whole item before it
commits it, so nothing in these frames needs its own checksum.

Each side's frames share one envelope (``AgentFrame`` / ``ServiceFrame``) whose first
element is the schema version; the operation inside is a tagged union. Fields are only
ever appended with defaults, like every other loaxa message.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Annotated

import msgspec

from .codec import Decoder, RejectionCounter
from .messages import Sha256
from .timefields import I64, U32, U64

# The ZAP domain the content service authenticates under, so a shared ZAP handler can
# tell content connections from other data-plane services.
ZAP_DOMAIN = "loaxa.content"

# 16 KiB: small enough that one chunk of one transfer holds a 2 Mbit/s uplink for only
# ~65 ms (so an urgent transfer overtakes quickly and the egress cap stays smooth) and
# that a cut link wastes little; large enough that the ~100 bytes of msgpack, ZMTP and
# CURVE framing per chunk cost under 1%.
CHUNK_BYTES = 16 * 1024
# Chunks in flight per transfer. 8 x 16 KiB covers a 4G round trip of ~0.5 s at the full
# 2 Mbit/s; what a cut connection wastes is bounded by the window.
DEFAULT_WINDOW = 8
MAX_WINDOW = 64

# An item a document pins without an air time (no deadline: served after everything
# that airs).
NO_DEADLINE_NS = 2**63 - 1

# Size caps for the guarded decoders. An agent frame is at most ~60 bytes; a chunk is
# its data plus ~60 bytes of header.
MAX_AGENT_FRAME_BYTES = 256
MAX_SERVICE_FRAME_BYTES = CHUNK_BYTES + 256

Window = Annotated[int, msgspec.Meta(ge=1, le=MAX_WINDOW)]
ChunkData = Annotated[bytes, msgspec.Meta(max_length=CHUNK_BYTES)]


# --------------------------------------------------------------------------- agent -> service


class Fetch(msgspec.Struct, array_like=True, frozen=True, tag=1):
    """Start (or restart) sending ``content`` from byte ``offset``.

    ``offset`` is the size of the agent's partial file (0 for a new item). ``need_by_ns``
    is the earliest air time (UTC ns) in the agent's documents, so the service can serve
    the soonest-airing items first and warn when one will be late; ``NO_DEADLINE_NS``
    for a pinned item with no air time. A new ``Fetch`` for the same item replaces any
    transfer of it the service still holds for this agent (a resume after a disconnect).
    """

    content: Sha256
    offset: U64
    window: Window
    need_by_ns: I64


class Credit(msgspec.Struct, array_like=True, frozen=True, tag=2):
    """The agent has written ``content`` up to ``written``: send up to ``window`` more."""

    content: Sha256
    written: U64


class Cancel(msgspec.Struct, array_like=True, frozen=True, tag=3):
    """The agent no longer needs ``content`` (a document changed): free the slot."""

    content: Sha256


AgentOp = Fetch | Credit | Cancel


class AgentFrame(msgspec.Struct, array_like=True, frozen=True, tag=1):
    """Every agent -> service message: ``[version, [op, ...]]``."""

    op: AgentOp


# --------------------------------------------------------------------------- service -> agent


class Chunk(msgspec.Struct, array_like=True, frozen=True, tag=1):
    """Bytes ``[offset, offset + len(data))`` of an item ``size`` bytes long.

    An empty ``data`` at ``offset == size`` says "you already have every byte": the
    agent then verifies what it holds.
    """

    content: Sha256
    size: U64
    offset: U64
    data: ChunkData


class StatusCode(IntEnum):
    """Why the service is not (or not yet) sending an item."""

    QUEUED = 1  # accepted, waiting for a transfer slot; ``position`` transfers go first
    BUSY = 2  # the queue is full: ask again after ``retry_after_ms``
    NOT_FOUND = 3  # the library has no such item
    DENIED = 4  # this agent's key is no longer enrolled
    BAD_RANGE = 5  # ``offset`` is past the item's end: drop the partial and start at 0


class Status(msgspec.Struct, array_like=True, frozen=True, tag=2):
    content: Sha256
    code: StatusCode
    retry_after_ms: U32 = 0
    position: U32 = 0


ServiceOp = Chunk | Status


class ServiceFrame(msgspec.Struct, array_like=True, frozen=True, tag=1):
    """Every service -> agent message: ``[version, [op, ...]]``."""

    op: ServiceOp


def agent_frame_decoder(counter: RejectionCounter | None = None) -> Decoder[AgentFrame]:
    """A guarded decoder for agent frames (the service side); never raises."""
    return Decoder[AgentFrame]("content_request", AgentFrame, MAX_AGENT_FRAME_BYTES, counter)


def service_frame_decoder(counter: RejectionCounter | None = None) -> Decoder[ServiceFrame]:
    """A guarded decoder for service frames (the agent side); never raises."""
    return Decoder[ServiceFrame]("content_reply", ServiceFrame, MAX_SERVICE_FRAME_BYTES,
                                 counter)


__all__ = [
    "CHUNK_BYTES", "DEFAULT_WINDOW", "MAX_AGENT_FRAME_BYTES", "MAX_SERVICE_FRAME_BYTES",
    "MAX_WINDOW", "NO_DEADLINE_NS", "ZAP_DOMAIN", "AgentFrame", "AgentOp", "Cancel",
    "Chunk", "Credit", "Fetch", "ServiceFrame", "ServiceOp", "Status", "StatusCode",
    "agent_frame_decoder", "service_frame_decoder",
]
