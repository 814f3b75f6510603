"""The two MQTT ends of regional collection.

``ForwardLink`` runs at the commune: it publishes the forwarder's batches on the
commune's own broker (the bridge takes them to the region) and hands the region's acks
back to it. ``CollectorLink`` runs at the region: it takes batches from every commune
off the regional broker, stores them, and answers each with an ack. Both keep a
persistent MQTT session, so what arrives while they are disconnected waits for them
at their broker; database work never runs on paho's network thread.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt

from protocols.clock import Clock
from protocols.codec import Rejected, RejectionCounter, encode
from protocols.collect import (
    CollectChannel,
    ack_decoder,
    batch_decoder,
    collect_topic,
    parse_collect_topic,
)
from protocols.mqtt import connect_properties, new_client

from ..storage.database import Database
from .forwarder import Forwarder, ForwardOptions
from .store import CollectorStore

log = logging.getLogger("loaxa.collector")
SESSION_EXPIRY_S = 7 * 86_400


@dataclass(frozen=True)
class BrokerLogin:
    host: str
    port: int
    username: str
    password: str
    ca_pem: bytes
    client_id: str
    reconnect_max_s: int = 30


class _Client:
    """A paho client with a persistent session that re-subscribes on every connect."""

    def __init__(self, login: BrokerLogin, subscriptions: list[str],
                 on_message: Callable[[str, bytes], None]) -> None:
        self.login = login
        self.connected = threading.Event()
        self._subscriptions = subscriptions
        self._handler = on_message
        self.client = new_client(login.client_id, login.username, login.password,
                                 login.ca_pem)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, login.reconnect_max_s)

    def start(self) -> None:
        self.client.connect_async(self.login.host, self.login.port, keepalive=30,
                                  clean_start=False,
                                  properties=connect_properties(SESSION_EXPIRY_S))
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, topic: str, payload: bytes) -> bool:
        if not self.connected.is_set():
            return False
        info = self.client.publish(topic, payload, qos=1)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, reason: object,
                    _p: object) -> None:
        if getattr(reason, "is_failure", False):
            log.error("the broker refused %s: %s", self.login.client_id, reason)
            return
        client.subscribe([(topic, 1) for topic in self._subscriptions])
        self.connected.set()
        log.info("%s connected to %s:%d", self.login.client_id, self.login.host,
                 self.login.port)

    def _on_disconnect(self, _c: mqtt.Client, _u: object, _f: object, reason: object,
                       _p: object) -> None:
        self.connected.clear()
        log.warning("%s lost the broker (%s); reconnecting", self.login.client_id, reason)

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        try:
            self._handler(message.topic, bytes(message.payload))
        except Exception:
            log.exception("could not take a message on %s", message.topic)


class ForwardLink:
    """The commune's forwarder, driven every ``interval_s`` and on every ack."""

    name = "regional forwarder"

    def __init__(self, db: Database, commune: str, commune_id: int, login: BrokerLogin,
                 clock: Clock, options: ForwardOptions | None = None,
                 interval_s: float = 5.0) -> None:
        self.commune = commune
        self._batch_topic = collect_topic(commune, CollectChannel.BATCH)
        self._acks: queue.Queue[bytes | None] = queue.Queue()
        self._client = _Client(login, [collect_topic(commune, CollectChannel.ACK)],
                               self._on_message)
        self.forwarder = Forwarder(db, commune, commune_id, self._send, clock, options)
        self.rejections = RejectionCounter()
        self._decoder = ack_decoder(self.rejections)
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="forward", daemon=True)

    @property
    def connected(self) -> bool:
        return self._client.connected.is_set()

    def start(self) -> None:
        self._client.start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._acks.put(None)
        self._thread.join(30)
        self._client.stop()

    def _send(self, payload: bytes) -> bool:
        return self._client.publish(self._batch_topic, payload)

    def _on_message(self, topic: str, payload: bytes) -> None:
        if parse_collect_topic(topic) == (self.commune, CollectChannel.ACK):
            self._acks.put(payload)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                payload = self._acks.get(timeout=self._interval)
            except queue.Empty:
                payload = None
            try:
                if payload is not None:
                    ack = self._decoder.decode(payload)
                    if isinstance(ack, Rejected):
                        log.warning("refused an ack: %s", ack)
                    else:
                        self.forwarder.on_ack(ack)
                if self.connected:
                    self.forwarder.pump()
            except Exception:
                log.exception("forwarding failed; retrying")
                self._stop.wait(self._interval)


@dataclass
class CollectorStats:
    batches: int = 0
    records: int = 0
    refused: int = 0
    errors: int = 0
    by_commune: dict[str, int] = field(default_factory=dict)


class CollectorLink:
    """Stores what every commune forwards; answers each batch once it is committed."""

    name = "regional collector"

    def __init__(self, store: CollectorStore, login: BrokerLogin) -> None:
        self.store = store
        self.stats = CollectorStats()
        self.rejections = RejectionCounter()
        self._decoder = batch_decoder(self.rejections)
        self._queue: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self._client = _Client(login, ["loaxa/v1/+/collect/batch"], self._on_message)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="collector", daemon=True)

    @property
    def connected(self) -> bool:
        return self._client.connected.is_set()

    def start(self) -> None:
        self._thread.start()
        self._client.start()

    def stop(self) -> None:
        self._stop.set()
        self._queue.put(None)
        self._thread.join(30)
        self._client.stop()

    def _on_message(self, topic: str, payload: bytes) -> None:
        self._queue.put((topic, payload))

    def _loop(self) -> None:
        while not self._stop.is_set():
            item = self._queue.get()
            if item is None:
                break
            topic, payload = item
            address = parse_collect_topic(topic)
            if address is None or address[1] is not CollectChannel.BATCH:
                continue
            batch = self._decoder.decode(payload)
            if isinstance(batch, Rejected):
                self.stats.refused += 1
                log.warning("refused a batch on %s: %s", topic, batch)
                continue
            try:
                ack = self.store.store(address[0], batch)
            except Exception:
                # Not acknowledged: the commune sends the batch again after its timeout.
                self.stats.errors += 1
                log.exception("could not store batch %d of %s", batch.batch, batch.commune)
                continue
            self.stats.batches += 1
            self.stats.records += ack.records
            self.stats.by_commune[batch.commune] = \
                self.stats.by_commune.get(batch.commune, 0) + ack.records
            self._client.publish(collect_topic(batch.commune, CollectChannel.ACK),
                                 encode(ack))
