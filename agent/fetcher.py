"""The agent's content fetcher: gets every item its documents name into the cache.

There is no "prefetch" command: the documents are the desired state (the plan's slots,
its routine and pins, the active emergency), and ``needed_from_documents`` turns them into
``{sha256: earliest air time}``. The agent service calls ``want()`` with that whenever a
document changes; this thread fetches what is missing, soonest-airing first, one item at
a time (the controller's egress cap is shared by the whole commune, so an agent pulling
several items at once would only slow the urgent one down).

The link is a 4G modem behind carrier NAT, so the fetcher dials out on a CURVE DEALER
with ``linger=0``, a send timeout, ``immediate`` (nothing is queued for a connection
that is not up, where it would arrive stale) and ZMTP heartbeats. Whatever breaks, the
bytes already on disk are kept: an item arrives in ``<cache>/partial/<sha>.part``, and
every (re)request starts at that file's size. A socket monitor sees a reconnect at once,
so a transfer cut by the network resumes as soon as the link is back, from where it
stopped. The whole item's sha256 is checked before it is committed under its name.

The socket is closed after ``idle_close_s`` with nothing to fetch: ZMTP heartbeats on an
idle connection would cost 4G bytes all day long for nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO

import zmq
import zmq.utils.monitor

from protocols.clock import Clock, SystemClock
from protocols.clock_exchange import Heartbeats
from protocols.codec import Rejected, RejectionCounter, encode
from protocols.content import (
    CHUNK_BYTES,
    DEFAULT_WINDOW,
    MAX_SERVICE_FRAME_BYTES,
    NO_DEADLINE_NS,
    AgentFrame,
    Cancel,
    Credit,
    Fetch,
    ServiceFrame,
    Status,
    StatusCode,
    service_frame_decoder,
)
from protocols.messages import Emergency, Plan

from .cache import Cache, IntegrityError
from .identity import CurveIdentity

log = logging.getLogger("loaxa.agent.fetcher")

_POLL_MS = 100
_MONITORED = (zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED
              | zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
              | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)


def needed_from_documents(plan: Plan | None, emergency: Emergency | None,
                          now_ns: int) -> dict[bytes, int]:
    """What the documents need cached: ``{sha256: earliest air time (UTC ns)}``.

    * plan slots whose window has not ended, by their start;
    * the plan's standing routine, by the plan's horizon (the routine is what the agent
      extrapolates once the resolved timeline runs out);
    * the plan's pins, with no air time (``NO_DEADLINE_NS``);
    * the active emergency's item, by its start: it is due now, so it goes first.
    """
    needed: dict[bytes, int] = {}

    def need(sha: bytes, at_ns: int) -> None:
        needed[sha] = min(at_ns, needed.get(sha, NO_DEADLINE_NS))

    if plan is not None:
        for slot in plan.slots:
            if slot.window_end_ns >= now_ns or slot.start_ns >= now_ns:
                need(slot.content, slot.start_ns)
        for item in plan.routine:
            need(item.content, plan.horizon_end_ns)
        for sha in plan.pins:
            need(sha, NO_DEADLINE_NS)
    if emergency is not None and emergency.active and emergency.content is not None:
        need(emergency.content, emergency.started_ns)
    return needed


class ItemState(StrEnum):
    """Where one needed item stands (reported in telemetry and progress events)."""

    WAITING = "waiting"  # needed; another item is fetched first
    CONNECTING = "connecting"
    QUEUED = "queued"  # the controller queued it behind items airing sooner
    FETCHING = "fetching"
    RETRYING = "retrying"  # the last attempt failed; waiting before the next
    NOT_FOUND = "not_found"  # the controller's library does not have it
    DENIED = "denied"  # the controller refused this agent's key
    NO_SPACE = "no_space"  # the cache cannot make room without dropping needed items
    CACHED = "cached"


@dataclass(frozen=True)
class ItemProgress:
    content: bytes
    need_by_ns: int
    state: ItemState
    received: int  # bytes on disk (partial or complete)
    size: int | None  # known once the controller sent the first chunk
    attempts: int  # consecutive attempts without progress
    queue_position: int | None = None
    detail: str = ""


@dataclass(frozen=True)
class FetcherStatus:
    connected: bool
    items: tuple[ItemProgress, ...]
    bytes_received: int  # chunk payload written, all items
    reconnects: int
    verify_failures: int
    rejected: dict[str, int]

    @property
    def missing(self) -> int:
        return sum(1 for item in self.items if item.state is not ItemState.CACHED)


@dataclass(frozen=True)
class FetchConfig:
    """Timeouts and pacing; tests shorten them."""

    window: int = DEFAULT_WINDOW
    send_timeout_ms: int = 2_000
    connect_timeout_s: float = 30.0  # to complete the CURVE handshake
    # Silence on a running transfer before dialling again; the service says "queued"
    # every 20 s while a transfer waits, and ZMTP heartbeats time out at 60 s.
    reply_timeout_s: float = 60.0
    queued_timeout_s: float = 120.0
    backoff_initial_s: float = 2.0
    backoff_max_s: float = 300.0
    not_found_retry_s: float = 300.0
    denied_retry_s: float = 900.0
    reconnect_ivl_ms: int = 1_000
    reconnect_max_ms: int = 30_000
    idle_close_s: float = 60.0
    fsync_every_bytes: int = 256 * 1024


@dataclass
class _Item:
    need_by_ns: int
    state: ItemState = ItemState.WAITING
    received: int = 0
    size: int | None = None
    attempts: int = 0
    retry_at_ns: int = 0  # monotonic
    position: int | None = None
    detail: str = ""


class _Link:
    """The connection came up or went down."""


class _Denied:
    """The controller refused this agent's key at the handshake."""


_Event = ServiceFrame | _Link | _Denied


class _Outcome(StrEnum):
    DONE = "done"
    SWITCH = "switch"  # the documents changed: pick again
    RETRY = "retry"
    STOP = "stop"


class _Transfer:
    """The partial file of one item being written, with its running sha256."""

    def __init__(self, cache: Cache, sha: bytes) -> None:
        self.sha = sha
        self.path: Path = cache.partial_path(sha)
        self.digest = hashlib.sha256()
        self.offset = 0
        if self.path.exists():
            with self.path.open("rb") as handle:
                while block := handle.read(1 << 20):
                    self.digest.update(block)
                    self.offset += len(block)
        self.handle: BinaryIO = self.path.open("ab")
        self.unsynced = 0

    def write(self, data: bytes, fsync_every: int) -> None:
        self.handle.write(data)
        self.digest.update(data)
        self.offset += len(data)
        self.unsynced += len(data)
        if self.unsynced >= fsync_every:
            self.sync()

    def sync(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.unsynced = 0

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.handle.close()


class Fetcher:
    """Fetches needed items from the controller's content service into ``cache``."""

    def __init__(self, endpoint: str, server_public_key: bytes, identity: CurveIdentity,
                 cache: Cache, *, clock: Clock | None = None,
                 config: FetchConfig | None = None, heartbeats: Heartbeats | None = None,
                 context: zmq.Context[Any] | None = None) -> None:
        self.endpoint = endpoint
        self.cache = cache
        self._server_key = server_public_key
        self._identity = identity
        self._clock = clock if clock is not None else SystemClock()
        self._config = config or FetchConfig()
        self._heartbeats = heartbeats or Heartbeats()
        self._own_context = context is None
        self._context: zmq.Context[Any] = context if context is not None else zmq.Context()
        self.counter = RejectionCounter()
        self._decoder = service_frame_decoder(self.counter)
        self._lock = threading.Lock()
        self._items: dict[bytes, _Item] = {}
        self._generation = 0
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._sock: zmq.Socket[bytes] | None = None
        self._monitor: zmq.Socket[bytes] | None = None
        self._poller = zmq.Poller()
        self._connected = False
        self._handshakes = 0
        self._denied_until_ns = 0
        self._idle_since_ns: int | None = None
        self._rng = random.Random()
        self._stats = {"bytes_received": 0, "reconnects": 0, "verify_failures": 0}
        cache.subscribe(self._lost)

    # ------------------------------------------------------------------ public API
    def want(self, needed: Mapping[bytes, int]) -> None:
        """The items the documents need now, each with its earliest air time (UTC ns).

        Call whenever a document changes. Items no longer listed are dropped (a running
        transfer of one is cancelled; its partial file stays for a while in case a
        later document wants it again) and become evictable in the cache.
        """
        with self._lock:
            current = self._items
            self._items = {}
            for sha, need_by in needed.items():
                item = current.get(sha) or _Item(need_by_ns=need_by)
                item.need_by_ns = need_by
                self._items[sha] = item
            self._generation += 1
        self.cache.set_needed(needed.keys())
        self._wake.set()

    def status(self) -> FetcherStatus:
        """Progress of every needed item, for telemetry and the operator's progress view."""
        with self._lock:
            items = tuple(
                ItemProgress(content=sha, need_by_ns=item.need_by_ns,
                             state=ItemState.CACHED if self.cache.has(sha) else item.state,
                             received=(self.cache.size_of(sha) or item.received),
                             size=self.cache.size_of(sha) or item.size, attempts=item.attempts,
                             queue_position=item.position, detail=item.detail)
                for sha, item in sorted(self._items.items(), key=lambda kv: kv[1].need_by_ns))
            stats = dict(self._stats)
            connected = self._connected
        return FetcherStatus(connected=connected, items=items,
                             bytes_received=stats["bytes_received"],
                             reconnects=stats["reconnects"],
                             verify_failures=stats["verify_failures"],
                             rejected=self.counter.snapshot())

    def start(self) -> Fetcher:
        if self._thread is not None:
            raise RuntimeError("the fetcher is already started")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="fetcher", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        if self._own_context and not self._context.closed:
            self._context.term()

    def __enter__(self) -> Fetcher:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ the thread
    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                sha = self._next()
                if sha is None:
                    self._idle()
                    continue
                self._idle_since_ns = None
                try:
                    outcome = self._fetch(sha)
                except OSError as exc:  # the disk: full, read-only, failing card
                    log.error("cannot write %s to the cache: %s", sha.hex(), exc)
                    self._retry(sha, ItemState.NO_SPACE, self._config.backoff_max_s, str(exc))
                    continue
                if outcome is _Outcome.STOP:
                    break
        except zmq.ZMQError as exc:
            if not self._stopping.is_set():
                log.error("content fetcher socket failed: %s", exc)
        finally:
            self._close_socket()

    def _next(self) -> bytes | None:
        """The soonest-airing needed item that is not cached and not waiting to retry."""
        now = self._clock.monotonic_ns()
        if now < self._denied_until_ns:
            return None
        with self._lock:
            candidates = [(item.need_by_ns, sha) for sha, item in self._items.items()
                          if item.retry_at_ns <= now and not self.cache.has(sha)]
        return min(candidates)[1] if candidates else None

    def _idle(self) -> None:
        now = self._clock.monotonic_ns()
        if self._idle_since_ns is None:
            self._idle_since_ns = now
        elif self._sock is not None and \
                now - self._idle_since_ns >= self._config.idle_close_s * 1e9:
            self._close_socket()
        with self._lock:
            retries = [item.retry_at_ns for sha, item in self._items.items()
                       if item.retry_at_ns > now and not self.cache.has(sha)]
        wake_at = min([*retries, now + 1_000_000_000])
        if self._wake.wait(max(0.01, (wake_at - now) / 1e9)):
            self._wake.clear()

    # ------------------------------------------------------------------ one item
    def _fetch(self, sha: bytes) -> _Outcome:
        config = self._config
        with self._lock:
            generation = self._generation
            item = self._items.get(sha)
            if item is None:
                return _Outcome.SWITCH
            need_by = item.need_by_ns
        transfer = _Transfer(self.cache, sha)
        self._update(sha, state=ItemState.CONNECTING if not self._connected
                     else ItemState.FETCHING, received=transfer.offset)
        try:
            return self._transfer(sha, transfer, need_by, generation, config)
        finally:
            transfer.close()

    def _transfer(self, sha: bytes, transfer: _Transfer, need_by: int, generation: int,
                  config: FetchConfig) -> _Outcome:
        self._ensure_socket()
        sock = self._sock
        assert sock is not None
        size: int | None = None
        credited = transfer.offset
        credit_every = max(1, config.window // 4) * CHUNK_BYTES
        requested_at_handshake = -1  # which handshake our Fetch went out on
        started = self._clock.monotonic_ns()
        last_activity = started
        fetched_at = started
        queued = False
        while not self._stopping.is_set():
            now = self._clock.monotonic_ns()
            # The documents changed: drop this item, or let a more urgent one go first.
            with self._lock:
                changed = self._generation != generation
                item = self._items.get(sha) if changed else None
                urgent = changed and item is not None and any(
                    other.need_by_ns < item.need_by_ns and other.retry_at_ns <= now
                    and not self.cache.has(other_sha)
                    for other_sha, other in self._items.items() if other_sha != sha)
                generation = self._generation
            if changed:
                if item is None or urgent:
                    self._send(AgentFrame(Cancel(sha)))
                    if item is not None:
                        self._update(sha, state=ItemState.WAITING)
                    return _Outcome.SWITCH
                if item.need_by_ns != need_by:  # re-announce the new air time
                    need_by = item.need_by_ns
                    requested_at_handshake = -1
            if not self._connected:
                if now - last_activity > config.connect_timeout_s * 1e9:
                    self._close_socket()
                    return self._retry(sha, ItemState.RETRYING, self._backoff(sha),
                                       "controller unreachable")
            elif requested_at_handshake != self._handshakes:
                # First request, or the link came back: (re)start at what is on disk.
                if self._send(AgentFrame(Fetch(sha, transfer.offset, config.window, need_by))):
                    requested_at_handshake = self._handshakes
                    credited = transfer.offset
                    last_activity = fetched_at = now
                    self._update(sha, state=ItemState.FETCHING, received=transfer.offset)
            else:
                silent = config.queued_timeout_s if queued else config.reply_timeout_s
                if now - last_activity > silent * 1e9:
                    log.info("no answer for %s in %.0f s; reconnecting", sha.hex()[:12], silent)
                    self._close_socket()  # a half-open connection: start a fresh one
                    return self._retry(sha, ItemState.RETRYING, self._backoff(sha),
                                       "no answer from the controller")
            for event in self._poll():
                if isinstance(event, _Denied):
                    return self._denied(sha)
                if isinstance(event, _Link):
                    last_activity = self._clock.monotonic_ns()
                    continue
                op = event.op
                if op.content != sha:
                    continue  # a stray frame of an item we switched away from
                last_activity = self._clock.monotonic_ns()
                if isinstance(op, Status):
                    outcome = self._on_status(sha, op, transfer)
                    if outcome is not None:
                        return outcome
                    queued = op.code is StatusCode.QUEUED
                    continue
                queued = False
                if size is None or op.size != size:
                    if size is not None or op.size < transfer.offset:
                        return self._restart(sha, transfer, "the item changed size")
                    size = op.size
                    self._update(sha, size=size)
                    if not self.cache.make_room(sha, size):
                        self._send(AgentFrame(Cancel(sha)))
                        return self._retry(sha, ItemState.NO_SPACE, config.backoff_max_s,
                                           f"no room for {size} bytes")
                if op.offset < transfer.offset:
                    # A duplicate after a re-request: say where we are, so the service
                    # skips ahead instead of waiting for credit we will never send.
                    self._send(AgentFrame(Credit(sha, transfer.offset)))
                    continue
                if op.offset > transfer.offset:  # a gap: ask again, at most once a second
                    if now - fetched_at > 1_000_000_000:
                        requested_at_handshake = -1
                    continue
                if transfer.offset + len(op.data) > size:
                    return self._restart(sha, transfer, "data past the item's end")
                transfer.write(op.data, config.fsync_every_bytes)
                with self._lock:
                    self._stats["bytes_received"] += len(op.data)
                    item_now = self._items.get(sha)
                    if item_now is not None:
                        item_now.received = transfer.offset
                        item_now.attempts = 0
                        item_now.state = ItemState.FETCHING
                        item_now.position = None
                if transfer.offset >= size:
                    self._send(AgentFrame(Credit(sha, transfer.offset)))
                    return self._complete(sha, transfer)
                if transfer.offset - credited >= credit_every \
                        and self._send(AgentFrame(Credit(sha, transfer.offset))):
                    credited = transfer.offset
        return _Outcome.STOP

    def _on_status(self, sha: bytes, status: Status, transfer: _Transfer) -> _Outcome | None:
        config = self._config
        code = status.code
        if code is StatusCode.QUEUED:
            self._update(sha, state=ItemState.QUEUED, position=status.position)
            return None
        if code is StatusCode.BUSY:
            return self._retry(sha, ItemState.RETRYING,
                               max(status.retry_after_ms / 1000, config.backoff_initial_s),
                               "the controller is busy")
        if code is StatusCode.NOT_FOUND:
            return self._retry(sha, ItemState.NOT_FOUND, config.not_found_retry_s,
                               "not in the controller's library")
        if code is StatusCode.DENIED:
            return self._denied(sha)
        return self._restart(sha, transfer, "the partial file is longer than the item")

    def _complete(self, sha: bytes, transfer: _Transfer) -> _Outcome:
        transfer.sync()
        transfer.close()
        try:
            self.cache.commit_partial(sha, transfer.digest.digest())
        except IntegrityError as exc:
            log.warning("%s; fetching it again from the start", exc)
            with self._lock:
                self._stats["verify_failures"] += 1
            self.cache.discard_partial(sha)
            return self._retry(sha, ItemState.RETRYING, self._backoff(sha), "sha256 mismatch")
        log.info("cached %s (%d bytes)", sha.hex(), transfer.offset)
        self._update(sha, state=ItemState.CACHED, received=transfer.offset, attempts=0,
                     detail="")
        return _Outcome.DONE

    def _restart(self, sha: bytes, transfer: _Transfer, why: str) -> _Outcome:
        log.warning("restarting %s from zero: %s", sha.hex(), why)
        transfer.close()
        self.cache.discard_partial(sha)
        self._send(AgentFrame(Cancel(sha)))
        return self._retry(sha, ItemState.RETRYING, self._backoff(sha), why)

    def _denied(self, sha: bytes) -> _Outcome:
        log.warning("the content service refused this agent's key")
        self._close_socket()
        self._denied_until_ns = self._clock.monotonic_ns() + int(
            self._config.denied_retry_s * 1e9)
        return self._retry(sha, ItemState.DENIED, self._config.denied_retry_s,
                           "the controller refused this agent's key")

    def _retry(self, sha: bytes, state: ItemState, after_s: float, detail: str) -> _Outcome:
        at = self._clock.monotonic_ns() + int(after_s * 1e9)
        with self._lock:
            item = self._items.get(sha)
            if item is not None:
                item.state, item.retry_at_ns, item.detail = state, at, detail
                item.attempts += 1
                item.position = None
        return _Outcome.RETRY

    def _backoff(self, sha: bytes) -> float:
        with self._lock:
            item = self._items.get(sha)
            attempts = item.attempts if item is not None else 0
        delay = min(self._config.backoff_max_s,
                    self._config.backoff_initial_s * 2.0 ** min(attempts, 16))
        return float(delay * self._rng.uniform(0.8, 1.2))

    def _update(self, sha: bytes, **changes: Any) -> None:
        with self._lock:
            item = self._items.get(sha)
            if item is None:
                return
            for key, value in changes.items():
                setattr(item, key, value)

    def _lost(self, sha: bytes) -> None:
        """The cache removed a corrupt copy: fetch it again (if still needed)."""
        with self._lock:
            item = self._items.get(sha)
            if item is not None:
                item.state, item.received, item.retry_at_ns, item.attempts = \
                    ItemState.WAITING, 0, 0, 0
            self._generation += 1  # a transfer of a less urgent item may yield to it
        self._wake.set()

    # ------------------------------------------------------------------ the socket
    def _ensure_socket(self) -> None:
        if self._sock is not None:
            return
        config = self._config
        sock: zmq.Socket[bytes] = self._context.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDTIMEO, config.send_timeout_ms)
        sock.setsockopt(zmq.IMMEDIATE, 1)
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_SERVICE_FRAME_BYTES + 64)
        sock.setsockopt(zmq.RECONNECT_IVL, config.reconnect_ivl_ms)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, config.reconnect_max_ms)
        sock.setsockopt(zmq.HEARTBEAT_IVL, self._heartbeats.interval_ms)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, self._heartbeats.timeout_ms)
        sock.setsockopt(zmq.HEARTBEAT_TTL, self._heartbeats.ttl_ms)
        sock.setsockopt(zmq.CURVE_SERVERKEY, self._server_key)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, self._identity.public_key)
        sock.setsockopt(zmq.CURVE_SECRETKEY, self._identity.secret_key)
        monitor: zmq.Socket[bytes] = sock.get_monitor_socket(_MONITORED)
        sock.connect(self.endpoint)
        self._sock, self._monitor = sock, monitor
        self._poller = zmq.Poller()
        self._poller.register(sock, zmq.POLLIN)
        self._poller.register(monitor, zmq.POLLIN)

    def _close_socket(self) -> None:
        sock, monitor = self._sock, self._monitor
        self._sock = self._monitor = None
        with self._lock:
            self._connected = False
        if sock is not None:
            with contextlib.suppress(zmq.ZMQError):
                sock.disable_monitor()
            sock.close(linger=0)
        if monitor is not None:
            monitor.close(linger=0)

    def _send(self, frame: AgentFrame) -> bool:
        sock = self._sock
        if sock is None or not self._connected:
            return False
        try:
            sock.send(encode(frame))
        except zmq.Again:  # the link dropped under us: the monitor will say when it is back
            return False
        return True

    def _poll(self) -> list[_Event]:
        """Wait up to 100 ms; return link events and decoded frames, in arrival order."""
        sock, monitor = self._sock, self._monitor
        if sock is None or monitor is None:
            self._stopping.wait(_POLL_MS / 1000)
            return []
        ready = dict(self._poller.poll(_POLL_MS))
        events: list[_Event] = []
        if monitor in ready:
            while True:
                try:
                    message = zmq.utils.monitor.recv_monitor_message(monitor, zmq.NOBLOCK)
                except zmq.Again:
                    break
                event = self._on_link_event(int(message["event"]))
                if event is not None:
                    events.append(event)
        if sock in ready:
            for _ in range(256):
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                if len(frames) != 1:
                    continue
                decoded = self._decoder.decode(frames[0])
                if isinstance(decoded, Rejected):
                    log.debug("ignored a content frame: %s", decoded)
                    continue
                events.append(decoded)
        return events

    def _on_link_event(self, event: int) -> _Event | None:
        if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            with self._lock:
                if self._handshakes:
                    self._stats["reconnects"] += 1
                self._connected = True
            self._handshakes += 1
            return _Link()
        if event == zmq.EVENT_DISCONNECTED:
            with self._lock:
                self._connected = False
            return _Link()
        if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            return _Denied()
        return None  # a protocol failure (wrong server key?): the timeouts handle it

