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


@dataclass(frozen=True, kw_only=True)
class LibraryImportProgress(Event):
    """An import moved on: queued, the start of a processing stage, or its end.

    One kind for a job's whole life, so a progress bar follows one stream; ``percent``
    is a stage-weighted estimate. ``code`` names why a refused or failed import
    stopped (the job's API view carries the sentence in the reader's language).
    """

    kind: ClassVar[str] = "library_import"
    job_id: str
    name: str  # the operator's file name
    state: str  # queued | processing | done | refused | failed
    stage: str | None = None  # checking | rendering | measuring | storing
    percent: int = 0
    outcome: str | None = None  # added | duplicate (when done)
    sha256: str | None = None
    code: str | None = None


@dataclass(frozen=True, kw_only=True)
class LibraryItemChanged(Event):
    """A library item was added, renamed or deleted (lists refresh on it)."""

    kind: ClassVar[str] = "library_item"
    change: str  # added | renamed | deleted
    sha256: str
    title: str


@dataclass(frozen=True, kw_only=True)
class ContentAlert(Event):
    """The content service cannot get an item to an agent as it should. Subclasses say
    why; listeners may take the base kind or one of them (``on_content_late`` ...)."""

    kind: ClassVar[str] = "content_alert"
    agent_id: str | None  # None: the key is no longer an active agent's
    sha256: str
    detail: str


@dataclass(frozen=True, kw_only=True)
class ContentLate(ContentAlert):
    """At the current egress the transfer will not finish before the item's air time."""

    kind: ClassVar[str] = "content_late"


@dataclass(frozen=True, kw_only=True)
class ContentMissing(ContentAlert):
    """An agent asked for an item the station's content store does not hold."""

    kind: ClassVar[str] = "content_not_found"


@dataclass(frozen=True, kw_only=True)
class ContentCorrupt(ContentAlert):
    """A stored library file no longer hashes to its name (a failing disk)."""

    kind: ClassVar[str] = "content_corrupt"


@dataclass(frozen=True, kw_only=True)
class ContentTransfer(Event):
    """An item on its way to an agent moved on: every change of state, and progress at
    most about once a second per agent and item (``controller.library.distribution``)."""

    kind: ClassVar[str] = "content_transfer"
    agent_id: str
    sha256: str
    state: str  # queued | sending | late | cached | failed
    percent: int
    sent_bytes: int  # acknowledged by the agent (written to its cache)
    size_bytes: int
    reason: str | None = None  # why it failed: not_found, corrupt, stalled, denied, ...


# --------------------------------------------------------------------------- scheduling


@dataclass(frozen=True, kw_only=True)
class ProgrammeApproved(Event):
    """A programme revision was approved: it reaches agents with the next plans."""

    kind: ClassVar[str] = "programme_approved"
    programme: str
    revision: int
    title: str
    approved_by: str


@dataclass(frozen=True, kw_only=True)
class ProgrammeWithdrawn(Event):
    """A programme was taken off the air (its future slots leave the next plans)."""

    kind: ClassVar[str] = "programme_withdrawn"
    programme: str
    withdrawn_by: str


@dataclass(frozen=True, kw_only=True)
class PlanPublished(Event):
    """A changed plan document was signed and published (retained) for one agent."""

    kind: ClassVar[str] = "plan_published"
    agent_id: str
    epoch: int
    version: int
    slots: int
    withdrawn: int  # slots of earlier plans dropped before their start


@dataclass(frozen=True, kw_only=True)
class EmergencyStarted(Event):
    """An emergency was started (without approval, by the emergency permission)."""

    kind: ClassVar[str] = "emergency_started"
    emergency_id: str
    content: str
    villages: tuple[str, ...]
    started_by: str


@dataclass(frozen=True, kw_only=True)
class EmergencyStopped(Event):
    kind: ClassVar[str] = "emergency_stopped"
    emergency_id: str
    stopped_by: str
    reason: str  # "stopped" | "superseded"


@dataclass(frozen=True, kw_only=True)
class EmergencyAcknowledged(Event):
    """An approver acknowledged an emergency aired without approval."""

    kind: ClassVar[str] = "emergency_acknowledged"
    emergency_id: str
    acknowledged_by: str


@dataclass(frozen=True, kw_only=True)
class AttestationChanged(Event):
    """An operator attested a legacy cluster or station operational, or withdrew it."""

    kind: ClassVar[str] = "attestation"
    attestation_id: int
    target: str  # cluster | station
    key: str
    change: str  # created | withdrawn
    by: str


@dataclass(frozen=True, kw_only=True)
class FleetAlert(Event):
    """Something about the fleet needs a person. Subclasses say what; listeners may take
    the base kind or one of them (``on_alert_agent_offline`` ...). ``alert_id`` is the
    row in ``alert``, cleared later by an :class:`AlertCleared` with the same id."""

    kind: ClassVar[str] = "alert"
    alert_id: int
    subject: str  # the agent, slot or village it is about


@dataclass(frozen=True, kw_only=True)
class AgentOfflineAlert(FleetAlert):
    """An agent has been offline longer than the configured threshold."""

    kind: ClassVar[str] = "alert_agent_offline"
    agent_id: str
    offline_since: dt.datetime | None
    threshold_min: int


@dataclass(frozen=True, kw_only=True)
class AiringMissedAlert(FleetAlert):
    """A slot targeted at an agent ended its window without an AIRED play record."""

    kind: ClassVar[str] = "alert_airing_missed"
    agent_id: str
    slot_id: str
    programme: str
    scheduled_at: dt.datetime
    outcome: str  # the play record's outcome, or "no-record"


@dataclass(frozen=True, kw_only=True)
class VillageUnreachedAlert(FleetAlert):
    """A village that was reached is no longer (indicator 1, over a trailing window)."""

    kind: ClassVar[str] = "alert_village_unreached"
    village: str
    since_day: dt.date
    best_availability: float | None


@dataclass(frozen=True, kw_only=True)
class JournalBacklogAlert(FleetAlert):
    """An agent's unacknowledged journal keeps growing (its records are not getting
    through), from its heartbeats' backlog."""

    kind: ClassVar[str] = "alert_journal_backlog"
    agent_id: str
    backlog_records: int
    oldest_s: int


@dataclass(frozen=True, kw_only=True)
class AlertCleared(Event):
    kind: ClassVar[str] = "alert_cleared"
    alert_id: int
    alert_kind: str
    subject: str
