"""The controller's MQTT link to its fleet.

Agent messages are decoded on paho's network thread only as far as routing needs:
liveness goes straight to the in-memory ``PresenceTracker``; journal batches go to the
ingest, which gathers many agents' batches into one transaction and folds them on one
thread while another commits the previous transaction and then publishes its signed
acknowledgements. Heartbeat latency therefore never waits on the database.

The controller keeps a persistent MQTT session (clean start off, long expiry), so
batches agents publish while it is down wait for it at the broker.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt

from protocols.codec import Rejected
from protocols.envelope import Domain, Signer
from protocols.inbox import FleetInbox
from protocols.messages import Birth, Death, Heartbeat, JournalBatch, Telemetry
from protocols.mqtt import connect_properties, new_client
from protocols.topics import AgentChannel, agent_topic, controller_subscriptions

from ..storage.database import Database
from ..uptime.rollup import RollupMaintainer
from .ingest import Delivery, JournalIngest, Prepared
from .presence import PresenceTracker

log = logging.getLogger("loaxa.fleet")


@dataclass(frozen=True)
class BrokerConnection:
    host: str
    port: int
    username: str
    password: str
    ca_pem: bytes


@dataclass
class LinkStats:
    batches: int = 0
    records: int = 0
    acks: int = 0
    unknown_agents: int = 0
    ingest_errors: int = 0
    last_ingest_ms: float = 0.0
    connected: bool = False
    reconnects: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class FleetLink:
    def __init__(self, commune: str, commune_id: int, db: Database, broker: BrokerConnection,
                 presence: PresenceTracker, signer: Callable[[], Signer],
                 known_agent: Callable[[str], bool], *, batch_records: int = 20_000,
                 batch_wait_s: float = 0.2, rollups: RollupMaintainer | None = None) -> None:
        self.commune = commune
        self.commune_id = commune_id
        self.db = db
        self.presence = presence
        self.inbox = FleetInbox(frozenset({commune}))
        self.stats = LinkStats()
        self._signer = signer
        self._known = known_agent
        self._ingest = JournalIngest(db, rollups=rollups)
        self._queue: queue.Queue[tuple[str, JournalBatch] | None] = queue.Queue()
        # One prepared transaction waits while the previous one commits: folding the
        # next batches overlaps the database's work instead of following it.
        self._prepared: queue.Queue[tuple[Prepared, int, int] | None] = queue.Queue(1)
        self._batch_records = batch_records
        self._batch_wait_s = batch_wait_s
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._client = new_client(f"loaxa-controller-{commune}", broker.username,
                                  broker.password, broker.ca_pem)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(1, 30)
        self._broker = broker
        self._worker = threading.Thread(target=self._ingest_loop, name="fleet-ingest",
                                        daemon=True)
        self._committer = threading.Thread(target=self._commit_loop, name="fleet-commit",
                                           daemon=True)
        self._last_stored = time.monotonic()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._worker.start()
        self._committer.start()
        self._client.connect_async(self._broker.host, self._broker.port, keepalive=60,
                                   clean_start=False,
                                   properties=connect_properties(7 * 86_400))
        self._client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        self._queue.put(None)
        self._worker.join(10)
        self._committer.join(10)
        self._client.disconnect()
        self._client.loop_stop()

    def health(self) -> str | None:
        """Wedged threads, or journal batches waiting far too long to be stored."""
        if not self._worker.is_alive() or not self._committer.is_alive():
            return "the ingest worker is not running"
        thread = getattr(self._client, "_thread", None)
        if thread is not None and not thread.is_alive() and not self._stop.is_set():
            return "the MQTT network thread is not running"
        waiting = self._queue.qsize() + self._prepared.qsize()
        if waiting and time.monotonic() - self._last_stored > 120:
            return f"{waiting} journal batches have waited over 2 minutes to be stored"
        return None

    @property
    def progress(self) -> int:
        """Advances while the link does work (the watchdog checks it moves)."""
        return self.stats.batches + self.stats.acks + self.stats.reconnects

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self._client.publish(topic, payload, qos=1, retain=retain)

    # ------------------------------------------------------------------ paho callbacks
    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, reason: object,
                    _p: object) -> None:
        if getattr(reason, "is_failure", False):
            log.error("broker refused the controller: %s", reason)
            return
        client.subscribe([(topic, 1) for topic in controller_subscriptions(self.commune)])
        self.stats.connected = True
        self._connected.set()
        log.info("connected to the broker")

    def _on_disconnect(self, _c: mqtt.Client, _u: object, _f: object, reason: object,
                       _p: object) -> None:
        self.stats.connected = False
        self.stats.reconnects += 1
        self._connected.clear()
        if not self._stop.is_set():
            log.warning("lost the broker (%s); reconnecting", reason)

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        try:
            self._route(message.topic, bytes(message.payload))
        except Exception:
            log.exception("could not handle a message on %s", message.topic)

    def _route(self, topic: str, payload: bytes) -> None:
        if not payload:
            return  # a cleared retained message
        received = self.inbox.receive(topic, payload)
        if isinstance(received, Rejected):
            return
        agent_id = received.address.agent_id
        assert agent_id is not None
        if not self._known(agent_id):
            self.stats.unknown_agents += 1
            log.warning("message from %s, which is not an active agent of %s", agent_id,
                        self.commune)
            return
        message = received.message
        channel = received.address.channel
        if channel is AgentChannel.HEARTBEAT and isinstance(message, Heartbeat):
            self.presence.heartbeat(agent_id, self.commune_id, message)
        elif channel is AgentChannel.BIRTH and isinstance(message, Birth):
            self.presence.birth(self.commune_id, message)
        elif channel is AgentChannel.DEATH and isinstance(message, Death):
            self.presence.death(self.commune_id, message)
        elif channel is AgentChannel.TELEMETRY and isinstance(message, Telemetry):
            self.presence.telemetry(agent_id, self.commune_id, message)
        elif channel is AgentChannel.JOURNAL and isinstance(message, JournalBatch):
            self._queue.put((agent_id, message))

    # ------------------------------------------------------------------ ingest worker
    def _ingest_loop(self) -> None:
        """Gathers batches into transactions and prepares them for ``_commit_loop``."""
        try:
            while not self._stop.is_set():
                first = self._queue.get()
                if first is None:
                    break
                pending = [first]
                records = len(first[1].entries)
                deadline = time.monotonic() + self._batch_wait_s
                while records < self._batch_records:
                    try:
                        item = self._queue.get(
                            timeout=max(0.0, deadline - time.monotonic()))
                    except queue.Empty:
                        break
                    if item is None:
                        self._stop.set()
                        break
                    pending.append(item)
                    records += len(item[1].entries)
                self._prepare(pending, records)
        finally:
            self._prepared.put(None)

    def _prepare(self, pending: list[tuple[str, JournalBatch]], records: int) -> None:
        deliveries = [Delivery(agent, self.commune_id, batch) for agent, batch in pending]
        try:
            prepared = self._ingest.prepare(deliveries)
        except Exception:
            self.stats.ingest_errors += 1
            log.exception("could not prepare %d journal batches; they will be resent",
                          len(pending))
            return
        self._prepared.put((prepared, len(pending), records))

    def _commit_loop(self) -> None:
        while (item := self._prepared.get()) is not None:
            self._commit(*item)

    def _commit(self, prepared: Prepared, batches: int, records: int) -> None:
        started = time.monotonic()
        try:
            acks = self._ingest.commit(prepared)
        except Exception:
            self.stats.ingest_errors += 1
            log.exception("could not store %d journal batches; they will be resent", batches)
            return
        self._last_stored = time.monotonic()
        self.stats.batches += batches
        self.stats.records += records
        self.stats.last_ingest_ms = (time.monotonic() - started) * 1000
        signer = self._signer()
        for agent_id, ack in acks:
            topic = agent_topic(self.commune, agent_id, AgentChannel.ACK)
            self._client.publish(topic, signer.seal(Domain.JOURNAL_ACK, topic, ack), qos=1)
            self.stats.acks += 1
