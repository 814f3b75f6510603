"""The in-process event bus: typed events that the API's WebSocket (and later the fleet
link, alerts and the TUI through the API) subscribe to.

Modelled on Mopidy's listeners: an event is a frozen dataclass, a listener is either a
plain callable or a :class:`Listener` whose ``on_<kind>`` method is called for the kinds
it cares about. Events are published *after* the transaction that caused them commits,
so a subscriber never hears about something that was rolled back.

Publishing is synchronous, in the publisher's thread; listeners must be quick and must
not block (the WebSocket bridge only hands the event to its event loop). A listener that
raises is logged and the others still get the event.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

log = logging.getLogger("loaxa.events")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every event. ``commune_id`` decides who may see it (None: admins only)."""

    kind: ClassVar[str] = "event"
    commune_id: int | None
    commune: str | None = None
    at: dt.datetime = field(default_factory=utcnow)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: the kind, then every field (dates as ISO 8601)."""
        body: dict[str, Any] = {"kind": self.kind}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            body[item.name] = value.isoformat() if isinstance(value, dt.date) else value
        return body


@dataclass(frozen=True, kw_only=True)
class AuditRecorded(Event):
    """An operator action was committed (every audited action emits one)."""

    kind: ClassVar[str] = "audit"
    entry_id: int
    username: str
    action: str
    target: str
    source: str


@dataclass(frozen=True, kw_only=True)
class EnrolmentCodeIssued(Event):
    kind: ClassVar[str] = "enrolment_code_issued"
    agent_id: str
    expires_at: dt.datetime


@dataclass(frozen=True, kw_only=True)
class AgentEnrolled(Event):
    """An agent claimed its code: it is active, with a CURVE key and broker account."""

    kind: ClassVar[str] = "agent_enrolled"
    agent_id: str
    cluster: str | None


@dataclass(frozen=True, kw_only=True)
class ClaimRefused(Event):
    """A claim that named a real code was refused (unknown codes carry no commune)."""

    kind: ClassVar[str] = "claim_refused"
    agent_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class AgentRevoked(Event):
    kind: ClassVar[str] = "agent_revoked"
    agent_id: str
    broker_synced: bool


@dataclass(frozen=True, kw_only=True)
class SigningKeysChanged(Event):
    """The active key or the trust bundle changed: the fleet link republishes the bundle
    and takes a new :class:`~protocols.envelope.Signer`."""

    kind: ClassVar[str] = "signing_keys_changed"
    active_key_id: str
    trust_version: int


Callback = Callable[[Event], None]


class Listener:
    """Subclass and define ``on_<kind>(event)`` methods (e.g. ``on_agent_revoked``);
    kinds without a method are ignored."""

    def on_event(self, event: Event) -> None:
        handler = getattr(self, f"on_{event.kind}", None)
        if handler is not None:
            handler(event)


class Subscription:
    """Returned by :meth:`EventBus.subscribe`; ``close()`` (or ``with``) unsubscribes."""

    def __init__(self, bus: EventBus, callback: Callback) -> None:
        self._bus = bus
        self._callback = callback

    def close(self) -> None:
        self._bus.unsubscribe(self._callback)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class EventBus:
    """Thread-safe publish/subscribe of :class:`Event` values."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: list[Callback] = []

    def subscribe(self, listener: Callback | Listener) -> Subscription:
        callback = listener.on_event if isinstance(listener, Listener) else listener
        with self._lock:
            self._callbacks.append(callback)
        return Subscription(self, callback)

    def unsubscribe(self, callback: Callback) -> None:
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

    def publish(self, event: Event) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback(event)
            except Exception:
                log.exception("event listener %r failed on %s", callback, event.kind)

    def publish_all(self, events: list[Event]) -> None:
        for event in events:
            self.publish(event)


@dataclass(frozen=True, kw_only=True)
class AgentOnline(Event):
    """The fleet link heard a birth or heartbeat from an agent it had as offline."""

    kind: ClassVar[str] = "agent_online"
    agent_id: str
    session: int


@dataclass(frozen=True, kw_only=True)
class AgentOffline(Event):
    """The agent's Last Will arrived, it said goodbye, or it fell silent too long."""

    kind: ClassVar[str] = "agent_offline"
    agent_id: str
    session: int
