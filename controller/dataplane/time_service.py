"""The controller's time service: answers agents' clock-exchange requests over ZeroMQ.

Agents whose system clock is not disciplined by chrony estimate the controller's clock
from NTP-style exchanges (``protocols.clock_exchange``); this is the controller's end. It
runs in its own thread so that a busy controller process adds as little as possible
between a request arriving and ``t2`` being read, and between ``t3`` being read and the
reply leaving: whatever latency remains is absorbed into the round-trip delay, which the
agents' minimum-RTT filter discards.

Only enrolled agents may ask: the socket is a CURVE server and every handshake is
authorised by a pluggable ``is_allowed(public_key)`` callable through ZAP, so enrolment
and revocation take effect without a restart. Because ZAP only runs at the handshake, the
authoriser is asked again for every request (ZAP hands the peer's key to the socket as
the message's ``User-Id``): a revoked agent that is still connected gets no more answers.
The service can also leave authentication to a ZAP handler shared by the data plane.

Hostile or broken requests are counted (``counter``) and dropped; they never stop the
service.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from typing import Any

import zmq
import zmq.utils.z85
from zmq.auth.thread import ThreadAuthenticator

from protocols.clock import Clock
from protocols.clock_exchange import (
    SERVICE_HEARTBEATS,
    ZAP_DOMAIN,
    Heartbeats,
    TimeReply,
    request_decoder,
)
from protocols.codec import Reason, Rejected, RejectionCounter, encode

log = logging.getLogger("loaxa.dataplane.time")

Authorizer = Callable[[bytes], bool]
"""``is_allowed(public_key)``: may the holder of this raw 32-byte CURVE key ask the time?

Called from the ZAP thread at every handshake and from the service thread for every
request, so it must be thread-safe and cheap (a cached set, not a query per call).
An exception counts as "no".
"""

DEFAULT_ENDPOINT = "tcp://*:7711"
# Largest message ZeroMQ accepts from a peer before dropping the connection: a request is
# ~17 bytes, this leaves room for fields appended later and stops memory abuse early.
_MAX_MESSAGE_BYTES = 1024
# Wall minus monotonic only changes when the wall clock is stepped (slewing moves both
# clocks together); allow for test clocks that drift the wall clock on its own.
_STEP_TOLERANCE_NS = 1_000_000
_STEP_TOLERANCE_PPM = 500.0
_PAIR_TOLERANCE_NS = 100_000  # wall read between two monotonic reads this close
_POLL_MS = 50


class TimeResponder:
    """Turns one request payload into reply bytes, stamping ``t3`` as late as possible.

    Separate from the socket loop so that another data-plane socket could answer time
    requests too. Not thread-safe: one responder per serving thread.
    """

    def __init__(self, clock: Clock, counter: RejectionCounter | None = None,
                 timebase: int | None = None) -> None:
        self._clock = clock
        self.counter = counter if counter is not None else RejectionCounter()
        self._decoder = request_decoder(self.counter)
        self._timebase = secrets.randbits(32) if timebase is None else timebase & 0xFFFF_FFFF
        self._last: tuple[int, int] | None = None  # (monotonic, wall - monotonic)

    @property
    def timebase(self) -> int:
        """Changes on every wall-clock step, so agents never fit across one."""
        return self._timebase

    def respond(self, payload: bytes | memoryview, t2_ns: int) -> bytes | Rejected:
        """The reply to ``payload`` received at controller time ``t2_ns``, or why not."""
        request = self._decoder.decode(payload)
        if isinstance(request, Rejected):
            return request
        before = self._clock.monotonic_ns()
        t3 = self._clock.wall_ns()
        after = self._clock.monotonic_ns()
        # Pre-empted between the readings (a busy station), the pair says nothing about
        # a step: checking it would restart every agent's estimate for nothing.
        if after - before <= _PAIR_TOLERANCE_NS:
            self._notice_steps((before + after) // 2, t3)
        return encode(TimeReply(seq=request.seq, t1_ns=request.t1_ns, t2_ns=t2_ns, t3_ns=t3,
                                quality=self._clock.quality(), timebase=self._timebase))

    def _notice_steps(self, mono: int, wall: int) -> None:
        """Bump ``timebase`` when wall - monotonic moved more than slewing could explain."""
        mapping = wall - mono
        if self._last is not None:
            last_mono, last_mapping = self._last
            elapsed = max(0, mono - last_mono)
            tolerance = _STEP_TOLERANCE_NS + elapsed * _STEP_TOLERANCE_PPM * 1e-6
            if abs(mapping - last_mapping) > tolerance:
                self._timebase = (self._timebase + 1) & 0xFFFF_FFFF
                log.warning("controller wall clock stepped by %.3f ms; new timebase %d",
                            (mapping - last_mapping) / 1e6, self._timebase)
        self._last = (mono, mapping)


class _CurveKeys:
    """The ZAP credentials provider: adapts ``is_allowed(raw key)`` to pyzmq's callback."""

    def __init__(self, is_allowed: Authorizer, refused: Callable[[], None]) -> None:
        self._is_allowed = is_allowed
        self._refused = refused

    def callback(self, domain: str, key: bytes) -> bool:
        allowed = _ask(self._is_allowed, zmq.utils.z85.decode(key))
        if not allowed:
            self._refused()  # counted, logged at debug: a stranger can retry at will
            log.debug("refused a clock-exchange handshake from key %s", key.decode("ascii"))
        return allowed


def _ask(is_allowed: Authorizer, public_key: bytes) -> bool:
    try:
        return bool(is_allowed(public_key))
    except Exception:  # the authoriser is the integrator's code (a database): fail closed
        log.exception("the clock-exchange authoriser failed; refusing")
        return False


class TimeService:
    """A CURVE ROUTER answering time requests with ``clock``, in its own thread.

    ``server_secret_key`` is the controller's CURVE secret key (32 raw bytes or 40 z85
    characters); agents learn the public half at enrolment.

    With ``is_allowed`` the service starts its own ZAP handler (pyzmq's
    ``ThreadAuthenticator``) and, since ZeroMQ allows one handler per context, a private
    context unless ``context`` is given. With ``is_allowed=None`` it starts none and relies
    on a handler already bound in ``context`` (the data plane's shared one) answering for
    ``zap_domain``; ``ZAP_ENFORCE_DOMAIN`` makes every handshake fail if there is none, and
    the per-request re-check is then that handler's business (its ``User-Id`` format is its
    own), so it is off.
    """

    def __init__(self, clock: Clock, server_secret_key: bytes, is_allowed: Authorizer | None,
                 *, endpoint: str = DEFAULT_ENDPOINT, heartbeats: Heartbeats | None = None,
                 recheck_each_request: bool = True, context: zmq.Context[Any] | None = None,
                 zap_domain: str = ZAP_DOMAIN) -> None:
        if is_allowed is None and context is None:
            raise ValueError("without is_allowed, pass the context whose ZAP handler decides")
        self._clock = clock
        self._secret = _raw_key(server_secret_key)
        self._is_allowed = is_allowed
        self._bind = endpoint
        self._heartbeats = heartbeats or SERVICE_HEARTBEATS
        self._recheck = recheck_each_request and is_allowed is not None
        self._zap_domain = zap_domain
        self._own_context = context is None
        self._context: zmq.Context[Any] = context if context is not None else zmq.Context()
        self.counter = RejectionCounter()
        self._responder = TimeResponder(clock, self.counter)
        self._auth: ThreadAuthenticator | None = None
        self._socket: zmq.Socket[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._served = 0
        self._unauthorised = 0
        self._refused = 0
        self._failures = 0
        self.endpoint = ""

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> TimeService:
        """Start ZAP, bind (errors surface here, in the caller's thread), start serving."""
        if self._thread is not None:
            raise RuntimeError("the time service is already started")
        if self._is_allowed is not None:
            auth = ThreadAuthenticator(self._context,
                                       log=logging.getLogger("loaxa.dataplane.zap"))
            auth.start()
            keys = _CurveKeys(self._is_allowed, self._refuse)
            auth.configure_curve_callback(domain=self._zap_domain, credentials_provider=keys)
            self._auth = auth
        sock: zmq.Socket[bytes] = self._context.socket(zmq.ROUTER)
        try:
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.CURVE_SERVER, 1)
            sock.setsockopt(zmq.CURVE_SECRETKEY, self._secret)
            sock.setsockopt(zmq.ZAP_DOMAIN, self._zap_domain.encode())
            # Without a ZAP handler the handshake fails instead of letting everyone in.
            sock.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)
            sock.setsockopt(zmq.MAXMSGSIZE, _MAX_MESSAGE_BYTES)
            sock.setsockopt(zmq.HEARTBEAT_IVL, self._heartbeats.interval_ms)
            sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, self._heartbeats.timeout_ms)
            sock.setsockopt(zmq.HEARTBEAT_TTL, self._heartbeats.ttl_ms)
            sock.bind(self._bind)
            self.endpoint = str(sock.getsockopt_string(zmq.LAST_ENDPOINT))
        except zmq.ZMQError:
            sock.close(linger=0)
            self._stop_auth()
            if self._own_context:  # a failed start is final: nothing is left running
                self._context.term()
            raise
        self._socket = sock
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve, name="time-service", daemon=True)
        self._thread.start()
        log.info("time service listening on %s (timebase %d)", self.endpoint,
                 self._responder.timebase)
        return self

    def stop(self) -> None:
        """Stop serving and close everything with ``linger=0``; safe to call twice."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self._stop_auth()
        if self._own_context:
            self._context.term()

    def __enter__(self) -> TimeService:
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
        """Answers sent; handshakes refused; requests from keys no longer allowed; handler
        failures; and malformed requests by ``time_request/<reason>``."""
        with self._lock:
            figures = {"served": self._served, "refused_handshakes": self._refused,
                       "unauthorised": self._unauthorised, "failures": self._failures}
        figures.update(self.counter.snapshot())
        return figures

    def _refuse(self) -> None:
        with self._lock:
            self._refused += 1

    # ------------------------------------------------------------------ the thread
    def _serve(self) -> None:
        sock = self._socket
        assert sock is not None
        try:
            while not self._stopping.is_set():
                if not sock.poll(_POLL_MS, zmq.POLLIN):
                    continue
                while True:
                    try:
                        frames = sock.recv_multipart(zmq.NOBLOCK, copy=False)
                    except zmq.Again:
                        break
                    t2 = self._clock.wall_ns()  # first thing after the socket, always
                    try:
                        self._handle(sock, frames, t2)
                    except zmq.ZMQError:
                        raise
                    except Exception:  # a bug here must not silence every agent's clock
                        with self._lock:
                            self._failures += 1
                        log.exception("time request handling failed; carrying on")
        except zmq.ZMQError as exc:
            if not self._stopping.is_set():
                log.error("time service socket failed: %s", exc)
        finally:
            sock.close(linger=0)
            self._socket = None

    def _handle(self, sock: zmq.Socket[bytes], frames: list[zmq.Frame], t2: int) -> None:
        if len(frames) != 2:
            self.counter.count(Rejected("time_request", Reason.MALFORMED,
                                        f"{len(frames)} frames"))
            return
        identity, payload = frames
        if self._recheck and not self._still_allowed(payload):
            with self._lock:
                self._unauthorised += 1
            return
        reply = self._responder.respond(payload.buffer, t2)
        if isinstance(reply, Rejected):
            log.debug("ignored a time request: %s", reply)
            return
        try:
            sock.send_multipart([identity.bytes, reply], zmq.NOBLOCK)
        except zmq.Again:  # that peer's queue is full: it will ask again
            return
        with self._lock:
            self._served += 1

    def _still_allowed(self, payload: zmq.Frame) -> bool:
        if self._is_allowed is None:
            return True
        try:
            user = payload.get("User-Id")
            key = zmq.utils.z85.decode(user) if isinstance(user, str) and len(user) == 40 \
                else None
        except (zmq.ZMQError, ValueError, KeyError, TypeError):
            key = None
        return key is not None and _ask(self._is_allowed, key)

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
