"""ZeroMQ authentication (ZAP, RFC 27) for the data plane, with keys from the registry.

One handler per ``zmq.Context`` answers every CURVE handshake of every socket in it, by
the socket's ZAP domain: the enrolment socket lets any key in (the one-time code is the
credential there), the content, stream and clock sockets only the keys of *active*
agents, read from the database at each handshake, so an enrolment or a revocation takes
effect at the next connection without a restart. pyzmq's own authenticator cannot do
this: its "allow any" switch is global to the context, not per domain.

A policy maps the peer's raw 32-byte public key to the ZAP ``User-Id`` to attach (the
agent id on the data plane, the key itself in Z85 for enrolment), or ``None`` to refuse.
Services read it back with ``frame.get("User-Id")`` on each received message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import zmq
import zmq.utils.z85
from sqlmodel import col, select

from controller.storage.database import Database
from controller.storage.tables.registry import Agent, AgentStatus

log = logging.getLogger("loaxa.dataplane.zap")
ZAP_ENDPOINT = "inproc://zeromq.zap.01"
ZAP_VERSION = b"1.0"
ENROL_DOMAIN = "loaxa-enrol"
AGENT_DOMAIN = "loaxa-agents"  # content, stream and clock sockets set this domain

KeyPolicy = Callable[[bytes], str | None]


def allow_any(public_key: bytes) -> str:
    """Any key may complete the handshake; its Z85 form becomes the ``User-Id``."""
    return zmq.utils.z85.encode(public_key).decode()


class RegistryKeys:
    """Active agents' CURVE keys, from the database.

    With ``ttl_s = 0`` (the default, what ZAP uses) every question is a query: revocation
    bites at the very next handshake, and handshakes are rare. A service that re-checks
    on every request (the content service) may ask for a short-lived cache instead.
    """

    def __init__(self, db: Database, ttl_s: float = 0.0) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._cache: dict[bytes, str] = {}
        self._loaded_at = float("-inf")

    def agent_for(self, public_key: bytes) -> str | None:
        """The active agent holding ``public_key``, or None."""
        if len(public_key) != 32:
            return None
        if self.ttl_s > 0:
            return self._cached().get(bytes(public_key))
        with self.db.session() as session:
            agent = session.exec(select(Agent).where(
                Agent.curve_public_key == bytes(public_key),
                Agent.status == AgentStatus.ACTIVE)).first()
            return agent.id if agent is not None else None

    def is_allowed(self, public_key: bytes) -> bool:
        return self.agent_for(public_key) is not None

    def key_of(self, agent_id: str) -> bytes | None:
        """The raw CURVE key of an active agent (maps a ZAP ``User-Id`` back to a key)."""
        with self.db.session() as session:
            agent = session.get(Agent, agent_id)
            if agent is None or agent.status is not AgentStatus.ACTIVE:
                return None
            return bytes(agent.curve_public_key) if agent.curve_public_key else None

    def _cached(self) -> dict[bytes, str]:
        with self._lock:
            if time.monotonic() - self._loaded_at > self.ttl_s:
                with self.db.session() as session:
                    rows = session.exec(select(Agent).where(
                        Agent.status == AgentStatus.ACTIVE,
                        col(Agent.curve_public_key).is_not(None)))
                    self._cache = {bytes(a.curve_public_key): a.id for a in rows
                                   if a.curve_public_key is not None}
                self._loaded_at = time.monotonic()
            return self._cache


class ZapAuthenticator:
    """The ZAP handler thread of one context. Start it before binding CURVE sockets."""

    name = "zap"

    def __init__(self, context: zmq.Context[zmq.Socket[bytes]],
                 policies: dict[str, KeyPolicy] | None = None) -> None:
        self.context = context
        self.policies: dict[str, KeyPolicy] = dict(policies or {})
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def set_policy(self, domain: str, policy: KeyPolicy) -> None:
        with self._lock:
            self.policies[domain] = policy

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="loaxa-zap", daemon=True)
        self._thread.start()
        self._ready.wait(5)
        if self._error is not None:
            raise RuntimeError(f"ZAP handler failed to start: {self._error}")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _run(self) -> None:
        socket = self.context.socket(zmq.REP)
        socket.linger = 0
        try:
            socket.bind(ZAP_ENDPOINT)
        except zmq.ZMQError as exc:
            self._error = exc
            self._ready.set()
            socket.close()
            return
        self._ready.set()
        poller = zmq.Poller()
        poller.register(socket, zmq.POLLIN)
        try:
            while not self._stop.is_set():
                if not poller.poll(200):
                    continue
                request = socket.recv_multipart()
                socket.send_multipart(self.answer(request))
        except zmq.ZMQError as exc:
            if exc.errno != zmq.ETERM:
                log.exception("ZAP handler stopped")
        finally:
            socket.close(linger=0)

    def answer(self, request: list[bytes]) -> list[bytes]:
        """The reply to one ZAP request (public for tests). Never raises."""
        if len(request) < 6:
            return [ZAP_VERSION, b"", b"500", b"malformed ZAP request", b"", b""]
        version, request_id, domain, address, _identity, mechanism = request[:6]
        credentials = request[6:]

        def reply(code: bytes, text: bytes, user_id: str = "") -> list[bytes]:
            return [ZAP_VERSION, request_id, code, text, user_id.encode(), b""]

        if version != ZAP_VERSION:
            return reply(b"500", b"unsupported ZAP version")
        if mechanism != b"CURVE" or len(credentials) != 1:
            return reply(b"400", b"CURVE required")
        with self._lock:
            policy = self.policies.get(domain.decode(errors="replace"))
        if policy is None:
            return reply(b"400", b"unknown domain")
        try:
            user_id = policy(credentials[0])
        except Exception:
            log.exception("ZAP policy for %r failed", domain)
            return reply(b"500", b"policy error")
        if user_id is None:
            log.info("ZAP: refused a key on %s from %s", domain.decode(errors="replace"),
                     address.decode(errors="replace"))
            return reply(b"400", b"key not allowed")
        return reply(b"200", b"OK", user_id)
