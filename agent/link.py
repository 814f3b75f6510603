"""The agent's MQTT 5 link: one network thread that owns the paho client.

Why a thread of our own instead of ``loop_start()``: the watchdog may only be fed when
the network loop is demonstrably turning (principle: a wedged agent must be restarted,
a disconnected one must not), so the loop counts its own turns; and because only this
thread ever touches the client, publishing from the service is a queue append plus a
wake-up byte, with no locking inside paho to reason about.

Per connection (Sparkplug-style): a durable session number from ``AgentState``, a Last
Will carrying ``Death(session)`` that the broker holds back for ``will_delay_s`` (so a
4G hiccup does not flap the agent offline), and a retained ``Birth`` on CONNACK. The
session is resumed (``clean_start=False``): the broker keeps subscriptions and queued
acks/commands while the agent is away, and re-subscribing with "retained only if new"
spares a 4G link the retained documents it already has. A clean stop publishes
``Death`` itself before disconnecting.

QoS 0 heartbeats may use an MQTT 5 topic alias (about 40 bytes less per heartbeat);
aliases are per connection and reset on reconnect. Bytes on the wire come from the
socket's ``TCP_INFO``.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import select
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from protocols.codec import encode
from protocols.messages import Death, LinkStats
from protocols.mqtt import connect_properties, new_client
from protocols.topics import AgentChannel, agent_subscriptions, agent_topic

from .tcpinfo import tcp_bytes

log = logging.getLogger("loaxa.agent.link")

STOP_PUBLISH_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class LinkSettings:
    commune: str
    agent_id: str
    host: str
    port: int
    username: str
    password: str
    ca_pem: bytes
    keepalive_s: int = 120
    session_expiry_s: int = 86_400
    will_delay_s: int = 90
    connect_timeout_s: float = 15.0
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 120.0
    topic_alias: bool = True


# Events the link posts to the service's queue (from the network thread).
@dataclass(frozen=True)
class LinkUp:
    session: int
    session_present: bool


@dataclass(frozen=True)
class LinkDown:
    reason: str


@dataclass(frozen=True)
class Incoming:
    topic: str
    payload: bytes


@dataclass(frozen=True)
class _Outgoing:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    alias: bool


class MqttLink:
    """Connects, reconnects with back-off, publishes, and reports what it receives."""

    def __init__(self, settings: LinkSettings, events: queue.Queue[Any], *,
                 next_session: Callable[[], int], birth: Callable[[int], bytes]) -> None:
        self.settings = settings
        self._events = events
        self._next_session = next_session
        self._birth = birth
        self._client = new_client(f"loaxa-{settings.agent_id}", settings.username,
                                  settings.password, settings.ca_pem)
        self._client.connect_timeout = settings.connect_timeout_s
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_socket_close = self._on_socket_close
        self._outbox: deque[_Outgoing] = deque()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mqtt-link", daemon=True)
        self._rng = random.Random()
        # State below is written by the network thread only; reads elsewhere are racy
        # snapshots of plain values, which is all telemetry needs.
        self.connected = False
        self.session = 0
        self._pending_session = 0
        self._attempts = 0
        self._retry_at = 0.0
        self._subscribed_once = False
        self._announce: bool | None = None  # set on CONNACK: session present?
        self._alias_max = 0
        self._aliases: dict[str, int] = {}
        self._turns = 0
        self._last_turn = time.monotonic()
        self._connections = 0
        self._tx_closed = 0
        self._rx_closed = 0
        self._tx_live = 0
        self._rx_live = 0
        self._sampled_at = 0.0
        self.dropped_unconnected = 0
        self.last_error = ""

    # ------------------------------------------------------------------ any thread
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Publish Death (when connected), disconnect and join the network thread."""
        self._stop.set()
        self._wake()
        if self._thread.is_alive():
            self._thread.join(timeout)
        for sock in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                sock.close()

    def publish(self, topic: str, payload: bytes, *, qos: int = 0, retain: bool = False,
                alias: bool = False) -> bool:
        """Queue a message for the network thread; False (and dropped) when offline."""
        if not self.connected or self._stop.is_set():
            self.dropped_unconnected += 1
            return False
        self._outbox.append(_Outgoing(topic, payload, qos, retain, alias))
        self._wake()
        return True

    def progress(self) -> tuple[int, float]:
        """``(turns, monotonic time of the last turn)`` of the network loop."""
        return self._turns, self._last_turn

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stats(self) -> LinkStats:
        return LinkStats(tx_bytes=self._tx_closed + self._tx_live,
                         rx_bytes=self._rx_closed + self._rx_live,
                         reconnects=max(self._connections - 1, 0))

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    # ------------------------------------------------------------------ network thread
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._turns += 1
                self._last_turn = time.monotonic()
                try:
                    self._turn()
                except Exception:  # the link must outlive any bug
                    log.exception("network loop error")
                    self._force_close("internal error")
                    time.sleep(0.5)
            self._shutdown()
        finally:
            self.connected = False

    def _turn(self) -> None:
        sock = self._client.socket()
        if sock is None:
            delay = self._retry_at - time.monotonic()
            if delay > 0:
                self._wait_wake(min(delay, 1.0))
                return
            self._connect()
            return
        if self.connected:
            self._drain_outbox()
        timeout = 1.0
        pending = getattr(sock, "pending", None)
        if callable(pending) and pending() > 0:
            timeout = 0.0
        wants = [sock] if self._client.want_write() else []
        try:
            readable, writable, _ = select.select([sock, self._wake_r], wants, [], timeout)
        except (OSError, ValueError):
            self._force_close("select failed")
            return
        if sock in readable or timeout == 0.0:
            self._client.loop_read()
        if self._announce is not None and self.connected:
            present, self._announce = self._announce, None
            self._announce_connection(present)
        if self._wake_r in readable:
            self._drain_wake()
        if self._client.socket() is not None and sock in writable:
            self._client.loop_write()
        if self._client.socket() is not None:
            self._client.loop_misc()
        self._sample_bytes()

    def _wait_wake(self, timeout: float) -> None:
        try:
            readable, _, _ = select.select([self._wake_r], [], [], max(timeout, 0.0))
        except (OSError, ValueError):
            time.sleep(max(timeout, 0.0))
            return
        if readable:
            self._drain_wake()
        # Nothing can be sent while offline: QoS 0 is live-only, journal batches are
        # retried by the forwarder once the link is back.
        while self._outbox and not self.connected:
            self._outbox.popleft()
            self.dropped_unconnected += 1

    def _drain_wake(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass

    def _connect(self) -> None:
        settings = self.settings
        session = self._next_session()
        will = Properties(PacketTypes.WILLMESSAGE)  # type: ignore[no-untyped-call]
        will.WillDelayInterval = settings.will_delay_s
        self._client.will_set(agent_topic(settings.commune, settings.agent_id,
                                          AgentChannel.DEATH),
                              encode(Death(settings.agent_id, session)), qos=1, retain=True,
                              properties=will)
        self._pending_session = session
        try:
            self._client.connect(settings.host, settings.port, keepalive=settings.keepalive_s,
                                 clean_start=False,
                                 properties=connect_properties(settings.session_expiry_s))
        except (OSError, ssl.SSLError, ValueError) as exc:
            self.last_error = str(exc) or type(exc).__name__
            log.info("cannot connect to %s:%d (%s)", settings.host, settings.port,
                     self.last_error)
            self._schedule_retry()

    def _schedule_retry(self) -> None:
        settings = self.settings
        delay = min(settings.reconnect_max_s, settings.reconnect_min_s * 2 ** self._attempts)
        self._attempts = min(self._attempts + 1, 30)
        # Jitter: a commune's agents all lose the same broker at once; spread them out.
        self._retry_at = time.monotonic() + delay * self._rng.uniform(0.5, 1.0)

    def _force_close(self, why: str) -> None:
        with contextlib.suppress(Exception):
            self._client.disconnect()
        if self.connected:
            self.connected = False
            self._events.put(LinkDown(why))
        self._schedule_retry()

    def _on_connect(self, _client: mqtt.Client, _userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        if reason.is_failure:
            self.last_error = f"refused: {reason}"
            log.warning("broker refused the connection: %s", reason)
            self._schedule_retry()
            return
        settings = self.settings
        self.connected = True
        self.session = self._pending_session
        self._attempts = 0
        self._connections += 1
        self._aliases = {}
        self._alias_max = int(getattr(properties, "TopicAliasMaximum", 0) or 0) \
            if settings.topic_alias else 0
        # Birth and subscriptions go out on the next turn: paho retransmits the previous
        # connection's unacknowledged QoS 1 messages right after this callback, and a
        # stale birth retransmitted after the new one would become the retained birth.
        self._announce = bool(getattr(flags, "session_present", False))

    def _announce_connection(self, present: bool) -> None:
        """Subscribe, then publish the birth: the broker handles one connection's packets
        in order, so whoever sees the birth can command the agent at once (as Sparkplug
        nodes subscribe to NCMD before NBIRTH)."""
        settings = self.settings
        if not present or not self._subscribed_once:
            options = SubscribeOptions(
                qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
            self._client.subscribe([(topic, options) for topic in
                                    agent_subscriptions(settings.commune, settings.agent_id)])
            self._subscribed_once = True
        self._client.publish(agent_topic(settings.commune, settings.agent_id,
                                         AgentChannel.BIRTH),
                             self._birth(self.session), qos=1, retain=True)
        log.info("connected (session %d, broker session %s)", self.session,
                 "resumed" if present else "new")
        self._events.put(LinkUp(self.session, present))

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any,
                       _properties: Any) -> None:
        was = self.connected
        self.connected = False
        self.last_error = str(reason)
        if was:
            log.info("disconnected: %s", reason)
            self._events.put(LinkDown(str(reason)))
        self._schedule_retry()
        if was:
            # The first retry of a connection that was up comes quickly (a hiccup).
            self._retry_at = time.monotonic() + self.settings.reconnect_min_s * \
                self._rng.uniform(0.5, 1.0)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: Any) -> None:
        self._events.put(Incoming(str(message.topic), bytes(message.payload)))

    def _on_socket_close(self, _client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        counted = tcp_bytes(sock)
        if counted is not None:
            self._tx_closed += counted[0]
            self._rx_closed += counted[1]
        self._tx_live = self._rx_live = 0

    def _sample_bytes(self) -> None:
        now = time.monotonic()
        if now - self._sampled_at < 1.0:
            return
        self._sampled_at = now
        counted = tcp_bytes(self._client.socket())
        if counted is not None:
            self._tx_live, self._rx_live = counted

    def _drain_outbox(self) -> None:
        while self._outbox and self.connected:
            item = self._outbox.popleft()
            topic, properties = item.topic, None
            if item.alias and item.qos == 0 and self._alias_max > 0:
                properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
                known = self._aliases.get(item.topic)
                if known is not None:
                    properties.TopicAlias = known
                    topic = ""
                elif len(self._aliases) < self._alias_max:
                    known = len(self._aliases) + 1
                    self._aliases[item.topic] = known
                    properties.TopicAlias = known
                else:
                    properties = None
            info = self._client.publish(topic, item.payload, qos=item.qos, retain=item.retain,
                                        properties=properties)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                log.debug("publish on %s failed: %s", item.topic, info.rc)

    def _shutdown(self) -> None:
        """Clean stop: Death first (the Will is discarded by a normal DISCONNECT)."""
        settings = self.settings
        if self.connected and self._client.socket() is not None:
            info = self._client.publish(
                agent_topic(settings.commune, settings.agent_id, AgentChannel.DEATH),
                encode(Death(settings.agent_id, self.session)), qos=1, retain=True)
            deadline = time.monotonic() + STOP_PUBLISH_TIMEOUT_S
            while not info.is_published() and time.monotonic() < deadline \
                    and self._client.socket() is not None:
                self._pump(0.1)
            self._client.disconnect()
            deadline = time.monotonic() + 1.0
            while self._client.socket() is not None and self._client.want_write() \
                    and time.monotonic() < deadline:
                self._pump(0.1)
        self._sample_bytes()
        with contextlib.suppress(Exception):
            self._client.disconnect()
        self.connected = False

    def _pump(self, timeout: float) -> None:
        sock = self._client.socket()
        if sock is None:
            return
        wants = [sock] if self._client.want_write() else []
        try:
            readable, writable, _ = select.select([sock], wants, [], timeout)
        except (OSError, ValueError):
            return
        if readable:
            self._client.loop_read()
        if writable and self._client.socket() is not None:
            self._client.loop_write()
