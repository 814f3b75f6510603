"""Clock-exchange messages: the NTP-style request/reply between an agent and the controller.

A Pi without chrony still has to air in step with its neighbours (DESIGN principle 5), so
the agent can estimate the controller's disciplined clock itself: it sends ``t1`` (its own
time at send), the controller stamps ``t2`` on receipt and ``t3`` just before replying,
the agent stamps ``t4`` on receipt. Offset and round-trip delay follow from the four.

The messages travel over a CURVE-encrypted ZeroMQ DEALER/ROUTER pair, one frame each, and
are compact msgpack arrays like every other loaxa message: the first element is the
schema version, fields are only ever appended with defaults. This module holds the wire
only; the sockets live in ``controller.dataplane.time_service`` and ``agent.clocksync``.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from .codec import Decoder, RejectionCounter
from .timefields import I64, U32, TimeQuality

# Size caps for the guarded decoders: an encoded request is ~17 bytes, a reply ~45.
MAX_REQUEST_BYTES = 64
MAX_REPLY_BYTES = 128

# The ZAP domain the time service authenticates under, so a shared ZAP handler can tell
# clock-exchange connections from other data-plane services.
ZAP_DOMAIN = "loaxa.time"

# ZMTP heartbeats. Agents on 4G sit behind carrier NAT whose idle mappings can expire
# after a minute or two; a PING every 20 s keeps the mapping alive, and a peer silent for
# 60 s is treated as gone, so a dead 4G cell is noticed and the DEALER reconnects instead
# of waiting on a half-open connection. These are the defaults of the data plane's
# sockets (content transfers are busy while they last).
HEARTBEAT_IVL_MS = 20_000
HEARTBEAT_TIMEOUT_MS = 60_000
HEARTBEAT_TTL_MS = 60_000


@dataclass(frozen=True)
class Heartbeats:
    """ZMTP heartbeat settings in milliseconds (``ZMQ_HEARTBEAT_IVL/TIMEOUT/TTL``).

    ``interval_ms = 0`` sends no PINGs (PONGs are always answered); tests shorten them to
    see a dead link noticed.
    """

    interval_ms: int = HEARTBEAT_IVL_MS
    timeout_ms: int = HEARTBEAT_TIMEOUT_MS
    ttl_ms: int = HEARTBEAT_TTL_MS


# The clock exchange is idle almost all the time (one exchange every 16-256 s), so its
# heartbeats would cost more 4G bytes than the exchanges themselves: a PING and its PONG
# are 82 bytes of TCP payload, 354 KB a day at 20 s from one end, twice that from both.
# Only the agent pings, every 60 s (half the MQTT keepalive, which has to survive the
# same NAT); it gives up on a connection after 30 s without an answer, and its PINGs ask
# the controller to drop the connection after 180 s of silence (three missed PINGs). The
# controller sends none of its own: it only needs to forget peers that vanished.
CLIENT_HEARTBEATS = Heartbeats(interval_ms=60_000, timeout_ms=30_000, ttl_ms=180_000)
SERVICE_HEARTBEATS = Heartbeats(interval_ms=0, timeout_ms=30_000, ttl_ms=180_000)


class TimeRequest(msgspec.Struct, array_like=True, frozen=True, tag=1):
    """Agent -> controller. ``t1_ns`` is the agent's own time at send, echoed back.

    ``t1_ns`` is whatever the agent's clock says (it may be wrong by years): the
    controller never interprets it, it only returns it so the agent can pair the reply
    with the request it sent (together with ``seq``) and discard stale or forged replies.
    """

    seq: U32
    t1_ns: I64


class TimeReply(msgspec.Struct, array_like=True, frozen=True, tag=1):
    """Controller -> agent: the request's ``seq`` and ``t1`` plus ``t2``/``t3``.

    ``t2_ns``/``t3_ns`` are the controller's wall clock (UTC ns) at receipt and at send.
    ``quality`` is the controller's own time quality: an agent never disciplines itself
    to an ``UNSYNCED`` controller. ``timebase`` changes whenever the controller's wall
    clock stepped (and on every service start), so an agent drops samples that straddle a
    step instead of fitting a line through them.
    """

    seq: U32
    t1_ns: I64
    t2_ns: I64
    t3_ns: I64
    quality: TimeQuality
    timebase: U32


def request_decoder(counter: RejectionCounter | None = None) -> Decoder[TimeRequest]:
    """A guarded decoder for requests (the controller side); never raises."""
    return Decoder[TimeRequest]("time_request", TimeRequest, MAX_REQUEST_BYTES, counter)


def reply_decoder(counter: RejectionCounter | None = None) -> Decoder[TimeReply]:
    """A guarded decoder for replies (the agent side); never raises."""
    return Decoder[TimeReply]("time_reply", TimeReply, MAX_REPLY_BYTES, counter)
