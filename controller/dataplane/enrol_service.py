"""The enrolment endpoint agents dial with a one-time code: ZeroMQ ROUTER with CURVE.

Any client key may complete the handshake (ZAP domain ``loaxa-enrol``), which proves the
client holds the matching secret key; the handshake's key comes back as the message's
``User-Id`` and must equal the key named in the claim. The code is the credential.

Hostile input never stops the service: frames of the wrong shape are counted and
dropped, undecodable claims are answered ``malformed``, each peer address gets a small
token bucket (``rate_limited`` beyond it), and any unexpected error in handling one
message is logged and the loop goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import zmq
import zmq.utils.z85

from controller.enrolment.claim import ClaimHandler
from controller.signing.curve import CurveKeyPair
from protocols.codec import Decoder, Reason, Rejected, RejectionCounter, encode
from protocols.enrolment import ClaimRefused, ClaimRequest, RefusalReason

from .zap import ENROL_DOMAIN, ZapAuthenticator, allow_any

log = logging.getLogger("loaxa.dataplane.enrol")
MAX_CLAIM_BYTES = 4096


@dataclass
class TokenBucket:
    """Per-peer rate limit: ``capacity`` claims at once, refilled at ``per_second``."""

    capacity: float = 10.0
    per_second: float = 0.2
    _state: dict[str, tuple[float, float]] = field(default_factory=dict)

    def allow(self, peer: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        tokens, last = self._state.get(peer, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.per_second)
        allowed = tokens >= 1.0
        self._state[peer] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._state) > 10_000:  # forget peers that have refilled completely
            full = self.capacity / self.per_second
            self._state = {p: s for p, s in self._state.items() if now - s[1] < full}
        return allowed


class EnrolService:
    name = "enrol"

    def __init__(self, context: zmq.Context[zmq.Socket[bytes]], endpoint: str,
                 keys: CurveKeyPair, handler: ClaimHandler, zap: ZapAuthenticator,
                 limiter: TokenBucket | None = None) -> None:
        self.context = context
        self.endpoint = endpoint
        self.keys = keys
        self.handler = handler
        self.limiter = limiter if limiter is not None else TokenBucket()
        self.rejections = RejectionCounter()
        self._decoder = Decoder[ClaimRequest]("claim", ClaimRequest, MAX_CLAIM_BYTES,
                                              self.rejections)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.bound_endpoint: str = ""
        zap.set_policy(ENROL_DOMAIN, allow_any)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="loaxa-enrol", daemon=True)
        self._thread.start()
        self._ready.wait(5)
        if self._error is not None:
            raise RuntimeError(f"enrolment service cannot bind {self.endpoint}: {self._error}")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _socket(self) -> zmq.Socket[bytes]:
        socket = self.context.socket(zmq.ROUTER)
        socket.linger = 0
        socket.curve_server = True
        socket.curve_secretkey = self.keys.secret_z85
        socket.zap_domain = ENROL_DOMAIN.encode()
        socket.maxmsgsize = MAX_CLAIM_BYTES * 2
        socket.sndtimeo = 1000
        socket.sndhwm = 100
        socket.bind(self.endpoint)
        last = socket.last_endpoint
        self.bound_endpoint = last.decode() if isinstance(last, bytes) else str(last)
        return socket

    def _run(self) -> None:
        try:
            socket = self._socket()
        except zmq.ZMQError as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        log.info("enrolment service on %s", self.bound_endpoint)
        poller = zmq.Poller()
        poller.register(socket, zmq.POLLIN)
        try:
            while not self._stop.is_set():
                if not poller.poll(200):
                    continue
                try:
                    frames = socket.recv_multipart(copy=False, flags=zmq.NOBLOCK)
                except zmq.Again:
                    continue
                try:
                    reply = self.handle(frames)
                except Exception:
                    log.exception("enrolment: a message could not be handled")
                    self.rejections.count(Rejected("claim", Reason.INVALID, "internal error"))
                    continue
                if reply is not None:
                    try:
                        socket.send_multipart(reply, flags=zmq.NOBLOCK)
                    except zmq.ZMQError as exc:
                        log.warning("enrolment: reply not sent (%s)", exc)
        finally:
            socket.close(linger=0)

    def handle(self, frames: list[zmq.Frame]) -> list[bytes] | None:
        """The reply frames for one received message, or None to drop it."""
        if len(frames) == 3 and frames[1].bytes == b"":
            envelope = [frames[0].bytes, b""]
        elif len(frames) == 2:
            envelope = [frames[0].bytes]
        else:
            self.rejections.count(Rejected("claim", Reason.MALFORMED,
                                           f"{len(frames)} frames"))
            return None
        payload = frames[-1]
        peer = _property(payload, "Peer-Address")
        if not self.limiter.allow(peer):
            log.warning("enrolment: rate limit for %s", peer)
            return [*envelope, encode(ClaimRefused(RefusalReason.RATE_LIMITED))]
        request = self._decoder.decode(payload.bytes)
        if isinstance(request, Rejected):
            log.info("enrolment: %s from %s", request, peer)
            return [*envelope, encode(ClaimRefused(RefusalReason.MALFORMED))]
        user_id = _property(payload, "User-Id")
        try:
            handshake_key = zmq.utils.z85.decode(user_id) if len(user_id) == 40 else b""
        except ValueError:
            handshake_key = b""
        if len(handshake_key) != 32:
            # No ZAP handler answered (misconfiguration): without the handshake's key no
            # claim can be checked, so none is granted.
            log.error("enrolment: no CURVE key for the peer; is the ZAP handler running?")
            return [*envelope, encode(ClaimRefused(RefusalReason.KEY_MISMATCH))]
        result = self.handler.claim(request, handshake_key, peer)
        return [*envelope, encode(result.reply)]


def _property(frame: zmq.Frame, name: str) -> str:
    try:
        value = frame.get(name)
    except zmq.ZMQError:
        return ""
    return value if isinstance(value, str) else ""
