"""The controller's content service: sends library items to agents before they air.

Agents fetch every item their documents name long before air time (DESIGN principles 1
and 6); this is the controller's end of ``protocols.content``. It runs a CURVE ROUTER in
its own thread. Two parts:

``TransferScheduler`` decides, without sockets (so it is tested with a manual clock):

* **admission** — at most ``max_concurrent`` transfers hold a slot (an open file, a
  credit window); the rest wait in a queue and are told so (``Status(QUEUED)``, repeated
  every ``queued_notice_s`` so a waiting agent knows it is not forgotten);
* **order** — earliest deadline first: slots go to the items airing soonest, a waiting
  item that airs sooner than the latest-airing active one takes its slot (an emergency
  never waits behind tomorrow's routine), and within the slots the next chunk always goes
  to the most urgent transfer that has credit, so the urgent one gets the whole cap and
  the others fill the gaps its round trips leave;
* **egress cap** — a token bucket over every byte sent, across all agents;
* **alerts** — under earliest-deadline-first a transfer finishes once every byte of the
  transfers ahead of it and its own remaining bytes have gone out at the cap, so when
  ``now + bytes ahead / cap`` (or, for the transfer at the head, its own observed rate)
  passes its air time, ``on_alert("late", ...)`` fires, once per transfer;
* **progress** — each state change (queued, sending, late, cached, failed) and each
  acknowledged step is noted (``TransferNote``); the service hands the notes to
  ``on_transfer``, which turns them into the operator's progress events.

Deadlines come from the agents: a ``Fetch`` carries the earliest air time in the agent's
own documents (plan slots, emergency, pins). The agent is the one that holds exactly the
documents it will air from, and the service needs no database query on the hot path.
An integrator who would rather trust the controller's own schedule passes
``deadline(sha256, agent_key) -> ns | None``; a non-``None`` answer overrides the agent's.

``ContentService`` is the socket around it. Only enrolled agents may fetch: the socket is
a CURVE server whose handshakes are authorised through ZAP by ``is_allowed(public_key)``,
so enrolment and revocation need no restart; and because ZAP runs only at the handshake,
the authoriser is asked again for every request (ZAP hands the peer's key to each
message as ``User-Id``) and, at most ``recheck_s`` apart, before each chunk: a revoked
agent that is still connected gets ``Status(DENIED)`` and no further byte. ZMTP
heartbeats keep carrier-NAT mappings alive; malformed frames are counted and ignored.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import errno
import hashlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import zmq
import zmq.utils.z85
from zmq.auth.thread import ThreadAuthenticator

from protocols.clock import Clock, SystemClock
from protocols.clock_exchange import Heartbeats
from protocols.codec import Reason, Rejected, RejectionCounter, encode
from protocols.content import (
    CHUNK_BYTES,
    MAX_AGENT_FRAME_BYTES,
    NO_DEADLINE_NS,
    ZAP_DOMAIN,
    Cancel,
    Chunk,
    Credit,
    Fetch,
    ServiceFrame,
    Status,
    StatusCode,
    agent_frame_decoder,
)

log = logging.getLogger("loaxa.dataplane.content")

Authorizer = Callable[[bytes], bool]
"""``is_allowed(public_key)``: may the holder of this raw 32-byte CURVE key fetch content?

Called from the ZAP thread at every handshake and from the service thread for every
request, so it must be thread-safe and cheap (a cached set, not a query per call). An
exception counts as "no".
"""

Locator = Callable[[bytes], Path | None]
"""``locate(sha256)``: the library file holding that item, or ``None``."""

DeadlineHook = Callable[[bytes, bytes], int | None]
"""``deadline(sha256, agent_public_key)``: the air time (UTC ns) the controller knows."""

AlertHook = Callable[[str, bytes, bytes, str], None]
"""``on_alert(kind, agent_public_key, sha256, detail)``; ``kind`` is an ``AlertKind``."""

PeerKey = Callable[[str], bytes | None]
"""``peer_key(user_id)``: the raw CURVE key of the agent a ZAP ``User-Id`` names."""

TransferHook = Callable[[list["TransferNote"]], None]
"""``on_transfer(notes)``: what happened to transfers since the last call, oldest first.

Called from the service thread, outside its lock, whenever there are notes and at every
housekeeping round (about twice a second) with none, so a listener that rate-limits can
flush what it held back. It must be quick (no network, a short database read at most).
"""


def z85_user_key(user_id: str) -> bytes | None:
    """The default ``peer_key``: pyzmq's authenticator attaches the key itself, in Z85."""
    try:
        return zmq.utils.z85.decode(user_id) if len(user_id) == 40 else None
    except ValueError:
        return None

DEFAULT_ENDPOINT = "tcp://*:7712"
# ZMTP + CURVE framing per message, charged to the egress cap with the frame itself.
FRAMING_BYTES = 48
_POLL_MAX_MS = 100
_HOUSEKEEPING_NS = 500_000_000
_BLOCKED_NS = 50_000_000  # a peer whose queue is full is skipped this long
_U32_MAX = 2**32 - 1


class TransferState(StrEnum):
    """Where one agent's transfer of one item stands (issue 5 item 6)."""

    QUEUED = "queued"  # waiting for a slot, or pre-empted by a sooner item
    SENDING = "sending"
    LATE = "late"  # queued or sending, but expected to finish after its air time
    CACHED = "cached"  # every byte written to the agent's cache (it verifies the sha256)
    FAILED = "failed"  # ended without the item; ``reason`` says why (the agent may retry)


class AlertKind(StrEnum):
    LATE = "late"  # the transfer cannot finish before the item's air time
    NOT_FOUND = "not_found"  # an agent needs an item the library does not have
    CORRUPT = "corrupt"  # the library file does not hash to its name


@dataclass(frozen=True)
class ServiceLimits:
    """How much the service sends, to how many agents at once, and how patiently."""

    egress_bytes_per_s: float | None = 250_000.0  # 2 Mbit/s; None = no cap
    burst_bytes: int = 4 * CHUNK_BYTES
    max_concurrent: int = 16
    max_queued: int = 4096
    max_per_agent: int = 4
    # A transfer whose sent bytes go unacknowledged this long is dropped (its agent has
    # gone; if not, it asks again and resumes).
    stall_timeout_s: float = 45.0
    # A waiting agent hears "queued" this often (well inside its reply timeout), also when
    # it holds a slot but more urgent transfers take the whole cap.
    queued_notice_s: float = 20.0
    busy_retry_ms: int = 30_000
    head_rate_after_s: float = 5.0  # observe the head transfer this long before judging it


@dataclass(frozen=True)
class TransferProgress:
    """One transfer as the operator sees it (issue 5 item 6: per-agent progress)."""

    agent: bytes
    content: bytes
    size: int
    acknowledged: int  # bytes the agent has written
    active: bool
    position: int  # 0 for active transfers; transfers ahead of it when queued
    need_by_ns: int


@dataclass(frozen=True)
class TransferNote:
    """A transfer changed state, or its agent acknowledged more bytes."""

    agent: bytes
    content: bytes
    size: int
    acknowledged: int
    state: TransferState
    reason: str | None = None  # for FAILED: not_found, corrupt, bad_range, cancelled,
    # disconnected, denied, stalled, unreadable


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    agent: bytes
    content: bytes
    detail: str


@dataclass
class Transfer:
    peer: bytes  # ZeroMQ routing id of the connection
    agent: bytes  # CURVE public key
    content: bytes
    need_by_ns: int
    order: int  # arrival number: ties on deadline are served first come first served
    size: int
    path: Path
    window: int
    next_offset: int
    written: int
    active: bool = False
    fd: int | None = None
    sent_any: bool = False
    progress_ns: int = 0  # monotonic time of the last credit (or admission)
    inflight_since_ns: int = 0  # when the oldest unacknowledged send went out
    last_sent_ns: int = 0
    admitted_ns: int = 0
    written_at_admission: int = 0
    blocked_until_ns: int = 0
    notice_due_ns: int = 0

    @property
    def key(self) -> tuple[int, int]:
        return (self.need_by_ns, self.order)

    @property
    def remaining(self) -> int:
        return max(0, self.size - self.written)

    @property
    def awaiting_credit(self) -> bool:
        """Bytes are out and unacknowledged (or all are sent and the last credit is due)."""
        return self.next_offset > self.written or (self.sent_any
                                                   and self.written >= self.size)

    def sendable(self, now_ns: int) -> bool:
        if not self.active or now_ns < self.blocked_until_ns:
            return False
        if self.next_offset < self.size:
            return self.next_offset < self.written + self.window * CHUNK_BYTES
        return not self.sent_any  # at the end already: one empty chunk says so


@dataclass(frozen=True)
class OutgoingChunk:
    transfer: Transfer
    offset: int
    length: int
    frame: bytes


Outgoing = tuple[bytes, bytes]  # (routing id, frame)


class TokenBucket:
    """Bytes per second with a burst; sends may leave it in debt (status frames)."""

    def __init__(self, rate: float | None, burst: int, now_ns: int) -> None:
        self.rate = rate
        self.burst = float(max(burst, CHUNK_BYTES + 256 + FRAMING_BYTES))
        self._tokens = self.burst
        self._at = now_ns

    def _refill(self, now_ns: int) -> None:
        if self.rate is not None and now_ns > self._at:
            self._tokens = min(self.burst, self._tokens + (now_ns - self._at) * self.rate / 1e9)
        self._at = max(self._at, now_ns)

    def wait_ns(self, cost: int, now_ns: int) -> int:
        """How long until ``cost`` bytes may go (0: now)."""
        if self.rate is None:
            return 0
        self._refill(now_ns)
        missing = min(cost, self.burst) - self._tokens
        return 0 if missing <= 0 else int(missing / self.rate * 1e9) + 1

    def take(self, cost: int, now_ns: int) -> None:
        if self.rate is not None:
            self._refill(now_ns)
            self._tokens -= cost


class TransferScheduler:
    """Admission, earliest-deadline-first order, credit, the egress cap and late alerts.

    Not thread-safe: the service thread owns it (``ContentService`` locks around it so
    that ``transfers()`` can be read from another thread).
    """

    def __init__(self, limits: ServiceLimits, clock: Clock, locate: Locator,
                 deadline: DeadlineHook | None = None) -> None:
        self.limits = limits
        self._clock = clock
        self._locate = locate
        self._deadline = deadline
        self.bucket = TokenBucket(limits.egress_bytes_per_s, limits.burst_bytes,
                                  clock.monotonic_ns())
        self._transfers: dict[tuple[bytes, bytes], Transfer] = {}  # (peer, content)
        self._queue: list[Transfer] = []  # waiting, most urgent first
        self._active: list[Transfer] = []
        self._order = 0
        self._verified: dict[bytes, tuple[int, int, int]] = {}  # sha -> (ino, size, mtime)
        self._alerted_late: set[tuple[bytes, bytes, int]] = set()
        self._alerted_missing: set[tuple[bytes, bytes]] = set()
        # Drained by the service every round; bounded for a scheduler nobody drains.
        self._notes: collections.deque[TransferNote] = collections.deque(maxlen=65_536)
        self.stats: dict[str, int] = {
            "requests": 0, "chunks": 0, "bytes": 0, "completed": 0, "queued_replies": 0,
            "busy": 0, "not_found": 0, "bad_range": 0, "preempted": 0, "stalled": 0,
            "peers_gone": 0, "alerts": 0, "max_active": 0, "cancelled": 0}

    # ------------------------------------------------------------------ requests
    def fetch(self, peer: bytes, agent: bytes, request: Fetch) -> tuple[list[Outgoing],
                                                                         list[Alert]]:
        """Queue (or restart) a transfer; answers with a status when it cannot start."""
        self.stats["requests"] += 1
        sha = request.content
        order: int | None = None
        for old in [t for t in self._transfers.values() if t.agent == agent
                    and t.content == sha]:
            order = old.order  # a resume keeps its place among equal deadlines
            self._remove(old)  # a resume (or a repeat) replaces what was there
        if sum(1 for t in self._transfers.values() if t.agent == agent) \
                >= self.limits.max_per_agent or len(self._queue) >= self.limits.max_queued:
            self.stats["busy"] += 1
            return [self.status_reply(peer, sha, StatusCode.BUSY,
                                 retry_after_ms=self.limits.busy_retry_ms)], []
        found = self._find(agent, sha)
        if isinstance(found, Alert):
            self.stats["not_found"] += 1
            self._notes.append(TransferNote(agent, sha, 0, 0, TransferState.FAILED,
                                            found.kind.value))
            alerts = [] if (agent, sha) in self._alerted_missing else [found]
            self._alerted_missing.add((agent, sha))
            return [self.status_reply(peer, sha, StatusCode.NOT_FOUND)], alerts
        self._alerted_missing.discard((agent, sha))
        path, size = found
        if request.offset > size:
            self.stats["bad_range"] += 1
            self._notes.append(TransferNote(agent, sha, size, 0, TransferState.FAILED,
                                            "bad_range"))
            return [self.status_reply(peer, sha, StatusCode.BAD_RANGE)], []
        need_by = request.need_by_ns
        if self._deadline is not None:
            try:
                override = self._deadline(sha, agent)
            except Exception:  # the integrator's code: keep the agent's own deadline
                log.exception("the content deadline hook failed")
                override = None
            need_by = need_by if override is None else override
        if order is None:
            self._order += 1
            order = self._order
        now = self._clock.monotonic_ns()
        transfer = Transfer(peer=peer, agent=agent, content=sha, need_by_ns=need_by,
                            order=order, size=size, path=path, window=request.window,
                            next_offset=request.offset, written=request.offset,
                            progress_ns=now)
        self._transfers[(peer, sha)] = transfer
        self._enqueue(transfer)
        out = self._admit()
        if not transfer.active and (peer, sha) in self._transfers:
            self._note(transfer)
            out.append(self._queued_status(transfer))
        return out, []

    def credit(self, peer: bytes, request: Credit) -> list[Outgoing]:
        transfer = self._transfers.get((peer, request.content))
        if transfer is None:
            return []  # for a transfer that was replaced, cancelled or dropped
        written = min(request.written, transfer.size)
        advanced = written > transfer.written
        if advanced:
            transfer.written = written
            transfer.progress_ns = transfer.inflight_since_ns = self._clock.monotonic_ns()
        transfer.next_offset = max(transfer.next_offset, transfer.written)  # skip resent bytes
        if transfer.written >= transfer.size and (transfer.sent_any or transfer.size == 0):
            self.stats["completed"] += 1
            self._alerted_late.discard((transfer.agent, transfer.content, transfer.need_by_ns))
            self._remove(transfer, TransferState.CACHED)
            return self._admit()
        if advanced:
            self._note(transfer)
        return []

    def cancel(self, peer: bytes, request: Cancel) -> list[Outgoing]:
        transfer = self._transfers.get((peer, request.content))
        if transfer is None:
            return []
        self.stats["cancelled"] += 1
        self._remove(transfer, TransferState.FAILED, "cancelled")
        return self._admit()

    def drop_peer(self, peer: bytes) -> list[Outgoing]:
        """The connection is gone (``EHOSTUNREACH``): forget its transfers."""
        gone = [t for t in self._transfers.values() if t.peer == peer]
        for transfer in gone:
            self._remove(transfer, TransferState.FAILED, "disconnected")
        if gone:
            self.stats["peers_gone"] += 1
        return self._admit() if gone else []

    def drop_agent(self, agent: bytes) -> list[Outgoing]:
        """The agent's key was revoked: forget every transfer it has."""
        gone = [t for t in self._transfers.values() if t.agent == agent]
        for transfer in gone:
            self._remove(transfer, TransferState.FAILED, "denied")
        return self._admit() if gone else []

    # ------------------------------------------------------------------ sending
    def next_chunk(self) -> OutgoingChunk | int | None:
        """The next chunk to send now; else nanoseconds until the cap allows it; else None."""
        now = self._clock.monotonic_ns()
        candidates = [t for t in self._active if t.sendable(now)]
        if not candidates:
            return None
        transfer = min(candidates, key=lambda t: t.key)
        length = min(CHUNK_BYTES, transfer.size - transfer.next_offset)
        wait = self.bucket.wait_ns(length + 64 + FRAMING_BYTES, now)
        if wait:
            return wait
        data = self._read(transfer, transfer.next_offset, length)
        if data is None:
            return self.next_chunk()
        frame = encode(ServiceFrame(Chunk(transfer.content, transfer.size,
                                          transfer.next_offset, data)))
        return OutgoingChunk(transfer, transfer.next_offset, length, frame)

    def sent(self, chunk: OutgoingChunk) -> None:
        transfer = chunk.transfer
        now = self._clock.monotonic_ns()
        self.bucket.take(len(chunk.frame) + FRAMING_BYTES, now)
        if not transfer.awaiting_credit:
            transfer.inflight_since_ns = now
        transfer.last_sent_ns = now
        transfer.next_offset = max(transfer.next_offset, chunk.offset + chunk.length)
        transfer.sent_any = True
        self.stats["chunks"] += 1
        self.stats["bytes"] += len(chunk.frame)

    def blocked(self, chunk: OutgoingChunk) -> None:
        """That peer's queue is full: try it again a little later."""
        chunk.transfer.blocked_until_ns = self._clock.monotonic_ns() + _BLOCKED_NS

    def charge(self, frame: bytes) -> None:
        """Status frames count against the cap too (they never wait for it)."""
        self.bucket.take(len(frame) + FRAMING_BYTES, self._clock.monotonic_ns())
        self.stats["bytes"] += len(frame)

    # ------------------------------------------------------------------ housekeeping
    def housekeeping(self) -> tuple[list[Outgoing], list[Alert]]:
        """Drop stalled transfers, remind waiting agents, and find transfers running late."""
        now = self._clock.monotonic_ns()
        stall_ns = self.limits.stall_timeout_s * 1e9
        out: list[Outgoing] = []
        for transfer in [t for t in self._active if t.awaiting_credit
                         and now - t.inflight_since_ns > stall_ns]:
            log.info("dropping a stalled transfer of %s", transfer.content.hex()[:12])
            self.stats["stalled"] += 1
            self._remove(transfer, TransferState.FAILED, "stalled")
        out.extend(self._admit())
        for transfer in self._queue:
            if now >= transfer.notice_due_ns:
                out.append(self._queued_status(transfer))
        # Active but starved: more urgent transfers take the whole cap. Say so, or the
        # agent would take the silence for a dead link and dial again.
        notice_ns = self.limits.queued_notice_s * 1e9
        for transfer in self._active:
            quiet_since = max(transfer.last_sent_ns, transfer.admitted_ns)
            if not transfer.awaiting_credit and now - quiet_since >= notice_ns \
                    and now >= transfer.notice_due_ns:
                out.append(self._queued_status(transfer))
        if len(self._alerted_late) > 100_000:  # transfers dropped before completing
            self._alerted_late.clear()
        return out, self._late_alerts(now)

    def _late_alerts(self, now: int) -> list[Alert]:
        cap = self.limits.egress_bytes_per_s
        wall = self._clock.wall_ns()
        alerts: list[Alert] = []
        ahead = 0
        head = min(self._active, key=lambda t: t.key, default=None)
        for transfer in sorted(self._transfers.values(), key=lambda t: t.key):
            ahead += transfer.remaining
            if transfer.need_by_ns >= NO_DEADLINE_NS or transfer.remaining == 0:
                continue
            eta: int | None = wall + int(ahead / cap * 1e9) if cap else None
            elapsed = now - transfer.admitted_ns
            done = transfer.written - transfer.written_at_admission
            if transfer is head and elapsed >= self.limits.head_rate_after_s * 1e9 \
                    and done > 0:  # its own pace (a slow 4G link) may be the bottleneck
                own = wall + int(transfer.remaining * elapsed / done)
                eta = own if eta is None else max(eta, own)
            token = (transfer.agent, transfer.content, transfer.need_by_ns)
            if eta is None or eta <= transfer.need_by_ns or token in self._alerted_late:
                continue
            self._alerted_late.add(token)
            self._note(transfer)
            self.stats["alerts"] += 1
            late_s = (eta - transfer.need_by_ns) / 1e9
            alerts.append(Alert(AlertKind.LATE, transfer.agent, transfer.content,
                                f"{transfer.remaining} bytes left; expected to finish "
                                f"{late_s:.0f} s after its air time"))
        return alerts

    # ------------------------------------------------------------------ views
    def take_notes(self) -> list[TransferNote]:
        """What happened since the last call, oldest first."""
        notes = list(self._notes)
        self._notes.clear()
        return notes

    def transfers(self) -> list[TransferProgress]:
        queued = {id(t): i for i, t in enumerate(self._queue)}
        return [TransferProgress(agent=t.agent, content=t.content, size=t.size,
                                 acknowledged=t.written, active=t.active,
                                 position=0 if t.active else queued.get(id(t), 0),
                                 need_by_ns=t.need_by_ns)
                for t in sorted(self._transfers.values(), key=lambda t: t.key)]

    @property
    def active(self) -> int:
        return len(self._active)

    @property
    def queued(self) -> int:
        return len(self._queue)

    # ------------------------------------------------------------------ internals
    def _admit(self) -> list[Outgoing]:
        """Fill free slots in deadline order; a sooner item takes the latest one's slot."""
        out: list[Outgoing] = []
        preempted: list[Transfer] = []
        while self._queue:
            candidate = self._queue[0]
            if len(self._active) >= self.limits.max_concurrent:
                worst = max(self._active, key=lambda t: t.key)
                if not candidate.key < worst.key:
                    break
                self._deactivate(worst)
                self.stats["preempted"] += 1
                preempted.append(worst)
                continue
            self._queue.pop(0)
            if self._activate(candidate):
                continue
            self._transfers.pop((candidate.peer, candidate.content), None)
            self._note(candidate, TransferState.FAILED, "unreadable")
            self.stats["not_found"] += 1
            out.append(self.status_reply(candidate.peer, candidate.content,
                                         StatusCode.NOT_FOUND))
        self.stats["max_active"] = max(self.stats["max_active"], len(self._active))
        out.extend(self._queued_status(t) for t in preempted if not t.active
                   and (t.peer, t.content) in self._transfers)
        return out

    def _activate(self, transfer: Transfer) -> bool:
        try:
            transfer.fd = os.open(transfer.path, os.O_RDONLY)
        except OSError as exc:
            log.error("cannot open %s: %s", transfer.path, exc)
            return False
        now = self._clock.monotonic_ns()
        transfer.active = True
        transfer.admitted_ns = transfer.progress_ns = now
        transfer.written_at_admission = transfer.written
        self._active.append(transfer)
        self._note(transfer)
        return True

    def _deactivate(self, transfer: Transfer) -> None:
        self._close(transfer)
        transfer.active = False
        self._active.remove(transfer)
        self._enqueue(transfer)
        self._note(transfer)

    def _note(self, transfer: Transfer, state: TransferState | None = None,
              reason: str | None = None) -> None:
        """Record where ``transfer`` stands (by default: late, sending or queued)."""
        if state is None:
            late = (transfer.agent, transfer.content, transfer.need_by_ns) in self._alerted_late
            state = TransferState.LATE if late else (
                TransferState.SENDING if transfer.active else TransferState.QUEUED)
        self._notes.append(TransferNote(transfer.agent, transfer.content, transfer.size,
                                        transfer.written, state, reason))

    def _enqueue(self, transfer: Transfer) -> None:
        index = bisect.bisect_right(self._queue, transfer.key, key=lambda t: t.key)
        self._queue.insert(index, transfer)

    def _remove(self, transfer: Transfer, ended: TransferState | None = None,
                reason: str | None = None) -> None:
        """Forget ``transfer``; ``ended`` says how it ended (None: replaced, or stopping)."""
        if ended is not None:
            self._note(transfer, ended, reason)
        self._transfers.pop((transfer.peer, transfer.content), None)
        if transfer.active:
            self._active.remove(transfer)
            transfer.active = False
        else:
            self._queue = [t for t in self._queue if t is not transfer]
        self._close(transfer)

    @staticmethod
    def _close(transfer: Transfer) -> None:
        if transfer.fd is not None:
            with contextlib.suppress(OSError):
                os.close(transfer.fd)
            transfer.fd = None

    def _read(self, transfer: Transfer, offset: int, length: int) -> bytes | None:
        assert transfer.fd is not None
        try:
            data = os.pread(transfer.fd, length, offset)
        except OSError as exc:
            data = b""
            log.error("reading %s failed: %s", transfer.path, exc)
        if len(data) == length:
            return data
        log.error("library file %s is shorter than it was", transfer.path)
        self._remove(transfer, TransferState.FAILED, "unreadable")
        self._verified.pop(transfer.content, None)
        return None

    def _find(self, agent: bytes, sha: bytes) -> tuple[Path, int] | Alert:
        """The library file for ``sha`` and its size, checked against its hash once."""
        try:
            path = self._locate(sha)
        except Exception:  # the integrator's code (the library): treat as missing
            log.exception("the content locator failed")
            path = None
        if path is None:
            return Alert(AlertKind.NOT_FOUND, agent, sha, "not in the library")
        try:
            stat = path.stat()
        except OSError:
            return Alert(AlertKind.NOT_FOUND, agent, sha, f"{path} is unreadable")
        identity = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if self._verified.get(sha) != identity:
            if _sha256_of(path) != sha:
                log.error("library file %s does not hash to its name", path)
                return Alert(AlertKind.CORRUPT, agent, sha, f"{path} does not match its sha256")
            self._verified[sha] = identity
        return path, stat.st_size

    def close(self) -> None:
        """Forget every transfer and close its file (the service is stopping)."""
        for transfer in list(self._transfers.values()):
            self._remove(transfer)

    def status_reply(self, peer: bytes, sha: bytes, code: StatusCode, *,
                     retry_after_ms: int = 0, position: int = 0) -> Outgoing:
        return peer, encode(ServiceFrame(Status(sha, code, retry_after_ms,
                                                min(position, _U32_MAX))))

    def _queued_status(self, transfer: Transfer) -> Outgoing:
        """``QUEUED``; ``position`` counts the transfers that go first."""
        position = sum(1 for t in self._transfers.values() if t.key < transfer.key)
        transfer.notice_due_ns = self._clock.monotonic_ns() + int(
            self.limits.queued_notice_s * 1e9)
        self.stats["queued_replies"] += 1
        return self.status_reply(transfer.peer, transfer.content, StatusCode.QUEUED,
                                 position=position)


def _sha256_of(path: Path) -> bytes | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    except OSError:
        return None
    return digest.digest()


# --------------------------------------------------------------------------- the socket


class _CurveKeys:
    """The ZAP credentials provider: adapts ``is_allowed(raw key)`` to pyzmq's callback."""

    def __init__(self, is_allowed: Authorizer) -> None:
        self._is_allowed = is_allowed

    def callback(self, domain: str, key: bytes) -> bool:
        allowed = _ask(self._is_allowed, zmq.utils.z85.decode(key))
        if not allowed:
            log.info("refused a content handshake from key %s", key.decode("ascii"))
        return allowed


def _ask(is_allowed: Authorizer, public_key: bytes) -> bool:
    try:
        return bool(is_allowed(public_key))
    except Exception:  # the authoriser is the integrator's code (a database): fail closed
        log.exception("the content authoriser failed; refusing")
        return False


@dataclass
class _Verdicts:
    """Recent authoriser answers for the per-chunk re-check (requests always ask afresh)."""

    max_age_ns: int
    answers: dict[bytes, tuple[bool, int]] = field(default_factory=dict)


class ContentService:
    """A CURVE ROUTER serving library items to enrolled agents, in its own thread.

    ``server_secret_key`` is the controller's CURVE secret key (32 raw bytes or 40 z85
    characters); agents learn the public half at enrolment. ``locate`` finds an item in
    the library.

    ZAP: ZeroMQ allows one handler per context. By default the service has its own
    context and a ``ThreadAuthenticator`` asking ``is_allowed`` under ``zap_domain``.
    Given a ``context``, pass that context's started ``authenticator`` to share it, or
    ``external_zap=True`` when another ZAP handler (e.g. ``controller.dataplane.zap``)
    answers for ``zap_domain``; ``peer_key`` then maps the ``User-Id`` that handler
    attaches (an agent id, say) back to the agent's key for the per-request re-check.
    """

    def __init__(self, server_secret_key: bytes, is_allowed: Authorizer, locate: Locator, *,
                 endpoint: str = DEFAULT_ENDPOINT, limits: ServiceLimits | None = None,
                 on_alert: AlertHook | None = None, deadline: DeadlineHook | None = None,
                 clock: Clock | None = None, heartbeats: Heartbeats | None = None,
                 recheck_s: float = 1.0, context: zmq.Context[Any] | None = None,
                 authenticator: ThreadAuthenticator | None = None,
                 zap_domain: str = ZAP_DOMAIN, external_zap: bool = False,
                 peer_key: PeerKey = z85_user_key,
                 on_transfer: TransferHook | None = None) -> None:
        if external_zap and (context is None or authenticator is not None):
            raise ValueError("external_zap needs the context whose ZAP handler answers, "
                             "and no authenticator")
        self._secret = _raw_key(server_secret_key)
        self._is_allowed = is_allowed
        self._bind = endpoint
        self._on_alert = on_alert
        self._on_transfer = on_transfer
        self._clock = clock if clock is not None else SystemClock(trust="always")
        self._heartbeats = heartbeats or Heartbeats()
        self._own_context = context is None
        self._context: zmq.Context[Any] = context if context is not None else zmq.Context()
        self._shared_auth = authenticator
        self._zap_domain = zap_domain
        self._external_zap = external_zap
        self._peer_key = peer_key
        self.limits = limits or ServiceLimits()
        self.counter = RejectionCounter()
        self._decoder = agent_frame_decoder(self.counter)
        self._scheduler = TransferScheduler(self.limits, self._clock, locate, deadline)
        self._verdicts = _Verdicts(int(recheck_s * 1e9))
        self._auth: ThreadAuthenticator | None = None
        self._socket: zmq.Socket[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._extra = {"unauthorised": 0, "failures": 0, "denied_sends": 0}
        self.endpoint = ""

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> ContentService:
        """Start ZAP, bind (errors surface here, in the caller's thread), start serving."""
        if self._thread is not None:
            raise RuntimeError("the content service is already started")
        if not self._external_zap:
            if self._shared_auth is not None:
                auth = self._shared_auth
            else:
                auth = ThreadAuthenticator(self._context,
                                           log=logging.getLogger("loaxa.dataplane.zap"))
                auth.start()
                self._auth = auth
            auth.configure_curve_callback(domain=self._zap_domain,
                                          credentials_provider=_CurveKeys(self._is_allowed))
        sock: zmq.Socket[bytes] = self._context.socket(zmq.ROUTER)
        try:
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.CURVE_SERVER, 1)
            sock.setsockopt(zmq.CURVE_SECRETKEY, self._secret)
            sock.setsockopt(zmq.ZAP_DOMAIN, self._zap_domain.encode())
            # Without a ZAP handler the handshake fails instead of letting everyone in.
            sock.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)
            sock.setsockopt(zmq.MAXMSGSIZE, 4 * MAX_AGENT_FRAME_BYTES)
            # Fail loudly on a peer that has gone, so its transfers are dropped at once.
            sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
            sock.setsockopt(zmq.HEARTBEAT_IVL, self._heartbeats.interval_ms)
            sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, self._heartbeats.timeout_ms)
            sock.setsockopt(zmq.HEARTBEAT_TTL, self._heartbeats.ttl_ms)
            sock.bind(self._bind)
            self.endpoint = str(sock.getsockopt_string(zmq.LAST_ENDPOINT))
        except zmq.ZMQError:
            sock.close(linger=0)
            self._stop_auth()
            raise
        self._socket = sock
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve, name="content-service",
                                        daemon=True)
        self._thread.start()
        log.info("content service listening on %s", self.endpoint)
        return self

    def stop(self) -> None:
        """Stop serving and close everything with ``linger=0``; safe to call twice."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self._stop_auth()
        if self._own_context and not self._context.closed:
            self._context.term()

    def __enter__(self) -> ContentService:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound TCP port (useful with ``tcp://127.0.0.1:0``)."""
        return int(self.endpoint.rsplit(":", 1)[1]) if self.endpoint else 0

    @property
    def public_key(self) -> bytes:
        """The server's raw CURVE public key, as agents must be told at enrolment."""
        return zmq.utils.z85.decode(zmq.curve_public(zmq.utils.z85.encode(self._secret)))

    def stats(self) -> dict[str, int]:
        """Counters: requests, chunks, bytes, completed, refusals by reason, and more."""
        with self._lock:
            figures = dict(self._scheduler.stats)
            figures.update(self._extra)
            figures["active"] = self._scheduler.active
            figures["queued"] = self._scheduler.queued
        figures.update(self.counter.snapshot())
        return figures

    def transfers(self) -> list[TransferProgress]:
        """Every transfer, most urgent first (for progress events)."""
        with self._lock:
            return self._scheduler.transfers()

    # ------------------------------------------------------------------ the thread
    def _serve(self) -> None:
        sock = self._socket
        assert sock is not None
        next_housekeeping = self._clock.monotonic_ns()
        wait_ms = 0
        try:
            while not self._stopping.is_set():
                if sock.poll(wait_ms, zmq.POLLIN):
                    self._receive(sock)
                wait_ns = self._pump(sock)
                now = self._clock.monotonic_ns()
                housekeeping = now >= next_housekeeping
                if housekeeping:
                    self._housekeeping(sock)
                    next_housekeeping = now + _HOUSEKEEPING_NS
                    wait_ns = 0 if wait_ns is None else wait_ns
                self._report(housekeeping)
                until_housekeeping = next_housekeeping - now
                if wait_ns is None:
                    wait_ns = until_housekeeping
                wait_ms = max(0, min(_POLL_MAX_MS, until_housekeeping // 1_000_000,
                                     -(-wait_ns // 1_000_000)))
        except zmq.ZMQError as exc:
            if not self._stopping.is_set():
                log.error("content service socket failed: %s", exc)
        finally:
            with self._lock:
                self._scheduler.close()
            sock.close(linger=0)
            self._socket = None

    def _receive(self, sock: zmq.Socket[bytes]) -> None:
        for _ in range(512):
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            try:
                self._handle(sock, frames)
            except zmq.ZMQError:
                raise
            except Exception:  # a bug here must not stop every agent's downloads
                with self._lock:
                    self._extra["failures"] += 1
                log.exception("content request handling failed; carrying on")

    def _handle(self, sock: zmq.Socket[bytes], frames: list[zmq.Frame]) -> None:
        if len(frames) != 2:
            self.counter.count(Rejected("content_request", Reason.MALFORMED,
                                        f"{len(frames)} frames"))
            return
        peer_frame, payload = frames
        peer = peer_frame.bytes
        request = self._decoder.decode(payload.buffer)
        if isinstance(request, Rejected):
            log.debug("ignored a content request: %s", request)
            return
        op = request.op
        agent = self._user_key(payload)
        if agent is None or not self._allowed_now(agent):
            with self._lock:
                self._extra["unauthorised"] += 1
                out = self._scheduler.drop_agent(agent) if agent is not None else []
                out.append(self._scheduler.status_reply(peer, op.content, StatusCode.DENIED))
            self._send_all(sock, out)
            return
        alerts: list[Alert] = []
        with self._lock:
            if isinstance(op, Fetch):
                out, alerts = self._scheduler.fetch(peer, agent, op)
            elif isinstance(op, Credit):
                out = self._scheduler.credit(peer, op)
            else:
                out = self._scheduler.cancel(peer, op)
        self._send_all(sock, out)
        self._raise(alerts)

    def _pump(self, sock: zmq.Socket[bytes]) -> int | None:
        """Send chunks while the cap allows; how long until the next may go (None: idle)."""
        for _ in range(64):
            with self._lock:
                chunk = self._scheduler.next_chunk()
            if chunk is None or isinstance(chunk, int):
                return chunk
            transfer = chunk.transfer
            if not self._allowed_cached(transfer.agent):
                with self._lock:
                    self._extra["denied_sends"] += 1
                    out = self._scheduler.drop_agent(transfer.agent)
                    out.append(self._scheduler.status_reply(transfer.peer, transfer.content,
                                                            StatusCode.DENIED))
                self._send_all(sock, out)
                continue
            try:
                sock.send_multipart([transfer.peer, chunk.frame], zmq.NOBLOCK)
            except zmq.Again:
                with self._lock:
                    self._scheduler.blocked(chunk)
                continue
            except zmq.ZMQError as exc:
                if exc.errno != errno.EHOSTUNREACH:
                    raise
                with self._lock:
                    out = self._scheduler.drop_peer(transfer.peer)
                self._send_all(sock, out)
                continue
            with self._lock:
                self._scheduler.sent(chunk)
        return 0

    def _housekeeping(self, sock: zmq.Socket[bytes]) -> None:
        with self._lock:
            out, alerts = self._scheduler.housekeeping()
        self._send_all(sock, out)
        self._raise(alerts)

    def _send_all(self, sock: zmq.Socket[bytes], out: list[Outgoing]) -> None:
        for peer, frame in out:
            try:
                sock.send_multipart([peer, frame], zmq.NOBLOCK)
            except zmq.Again:
                continue  # that agent's queue is full; it will ask again
            except zmq.ZMQError as exc:
                if exc.errno != errno.EHOSTUNREACH:
                    raise
                with self._lock:
                    more = self._scheduler.drop_peer(peer)
                self._send_all(sock, more)
                continue
            with self._lock:
                self._scheduler.charge(frame)

    def _report(self, always: bool) -> None:
        """Hand the transfers' notes to ``on_transfer`` (outside the lock)."""
        if self._on_transfer is None:
            return
        with self._lock:
            notes = self._scheduler.take_notes()
        if not notes and not always:
            return
        try:
            self._on_transfer(notes)
        except Exception:  # the integrator's code must not stop the service
            log.exception("the content transfer hook failed")

    def _raise(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            log.warning("content alert %s: agent %s, item %s: %s", alert.kind.value,
                        zmq.utils.z85.encode(alert.agent).decode(), alert.content.hex()[:12],
                        alert.detail)
            if self._on_alert is None:
                continue
            try:
                self._on_alert(alert.kind.value, alert.agent, alert.content, alert.detail)
            except Exception:  # the integrator's code must not stop the service
                log.exception("the content alert hook failed")

    def _allowed_now(self, agent: bytes) -> bool:
        allowed = _ask(self._is_allowed, agent)
        self._verdicts.answers[agent] = (allowed, self._clock.monotonic_ns())
        return allowed

    def _allowed_cached(self, agent: bytes) -> bool:
        answer = self._verdicts.answers.get(agent)
        if answer is not None and self._clock.monotonic_ns() - answer[1] < \
                self._verdicts.max_age_ns:
            return answer[0]
        return self._allowed_now(agent)

    def _user_key(self, payload: zmq.Frame) -> bytes | None:
        """The peer's CURVE public key, from the ``User-Id`` ZAP attached to the message."""
        try:
            user = payload.get("User-Id")
        except (zmq.ZMQError, KeyError):
            return None
        if not isinstance(user, str) or not user:
            return None
        try:
            key = self._peer_key(user)
        except Exception:  # the integrator's lookup: fail closed
            log.exception("the content peer-key lookup failed; refusing")
            return None
        return key if isinstance(key, bytes) and len(key) == 32 else None

    def _stop_auth(self) -> None:
        if self._auth is not None:
            self._auth.stop()
            self._auth = None


def _raw_key(key: bytes) -> bytes:
    if len(key) == 40:
        return zmq.utils.z85.decode(key)
    if len(key) == 32:
        return bytes(key)
    raise ValueError("a CURVE key is 32 raw bytes or 40 z85 characters")
