"""A test-side stand-in for the controller's fleet link, for tests that must see or steer
the wire itself: every batch as it arrived, acks delayed or withheld, births, deaths and
heartbeats with their arrival times. Whether records end up stored exactly once is
tested against the real controller and database (``tests/agent/test_lossfree_e2e.py``,
``tests/e2e/test_station_fleet.py``).

It does what the contract asks of a controller and nothing more: subscribes to the
commune's agent topics on the real broker (persistent session, QoS 1), decodes with
``protocols.inbox.FleetInbox``, stores journal records in memory keyed by the durable
identity ``(agent_id, journal_id, seq)`` (so a record delivered twice is stored once, and
a seq that ever arrives with different content is recorded as a conflict), and answers
every batch with a **signed** ``JournalAck`` naming the seqs it accounted for: the
entries it stored and the gaps the batch declared.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import paho.mqtt.client as mqtt

from controller.broker.accounts import Role
from protocols.codec import Rejected, encode
from protocols.envelope import Domain, Signer
from protocols.inbox import AgentMessage, FleetInbox
from protocols.messages import (
    Birth,
    Death,
    Heartbeat,
    JournalAck,
    JournalBatch,
    JournalRecord,
    SeqRange,
    Telemetry,
)
from protocols.mqtt import connect_properties, new_client
from protocols.topics import AgentChannel, agent_topic, controller_subscriptions

from .broker import RunningBroker

Key = tuple[str, bytes]  # (agent_id, journal_id)


@dataclass(frozen=True)
class BatchSeen:
    at: float  # time.monotonic() at the double
    agent: str
    journal_id: bytes
    first: int
    last: int
    entries: int
    gaps: int
    unacked_before: int  # batches of this agent received but not yet acked, at arrival
    seqs: tuple[int, ...]


@dataclass
class _JournalCopy:
    records: dict[int, bytes] = field(default_factory=dict)
    gaps: set[int] = field(default_factory=set)


def to_ranges(seqs: list[int]) -> list[SeqRange]:
    ranges: list[SeqRange] = []
    for seq in sorted(set(seqs)):
        if ranges and ranges[-1].last + 1 == seq:
            ranges[-1] = SeqRange(ranges[-1].first, seq)
        else:
            ranges.append(SeqRange(seq, seq))
    return ranges


def merge(ranges: list[SeqRange]) -> list[SeqRange]:
    merged: list[SeqRange] = []
    for r in sorted(ranges, key=lambda r: r.first):
        if merged and r.first <= merged[-1].last + 1:
            merged[-1] = SeqRange(merged[-1].first, max(merged[-1].last, r.last))
        else:
            merged.append(r)
    return merged


class FleetDouble:
    """Subscribe like a controller; store records exactly once; ack with a signature."""

    def __init__(self, broker: RunningBroker, commune: str, signer: Signer, *,
                 username: str | None = None, ack_delay_s: float = 0.0) -> None:
        self.broker = broker
        self.commune = commune
        self.signer = signer
        self.username = username or f"ctl-{commune}"[:64]
        self.ack_delay_s = ack_delay_s
        self.acking = True
        self.inbox = FleetInbox(frozenset({commune}))
        self._lock = threading.RLock()  # queries run inside wait_for's predicate
        self._changed = threading.Condition(self._lock)
        self.journals: dict[Key, _JournalCopy] = defaultdict(_JournalCopy)
        self.deliveries = 0  # journal entries received, duplicates included
        self.duplicates = 0
        self.conflicts: list[tuple[str, bytes, int]] = []
        self.batches: list[BatchSeen] = []
        self.births: list[tuple[float, str, Birth]] = []
        self.deaths: list[tuple[float, str, Death, bool]] = []  # retained flag
        self.heartbeats: list[tuple[float, str, Heartbeat]] = []
        self.telemetry: list[tuple[float, str, Telemetry]] = []
        self.rejected: list[Rejected] = []
        self.acks_sent = 0
        self._unacked: dict[str, int] = defaultdict(int)
        self._acks: queue.Queue[tuple[float, str, str, bytes] | None] = queue.Queue()
        self._ack_thread = threading.Thread(target=self._ack_worker, daemon=True)
        self.connected = threading.Event()
        self.refusals: list[str] = []  # CONNACK reasons before it got in (a timeout says them)
        if self.username not in broker.credentials:
            broker.add(self.username, Role.CONTROLLER, commune)
        creds = broker.credentials[self.username]
        self.client = new_client(f"double-{self.username}", self.username, creds.password,
                                 broker.ca_pem)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *_a: self.connected.clear()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.1, 1.0)

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 30.0) -> FleetDouble:
        self._ack_thread.start()
        self.client.connect("127.0.0.1", self.broker.port, keepalive=10, clean_start=False,
                            properties=connect_properties(600))
        self.client.loop_start()
        if not self.connected.wait(timeout):
            raise TimeoutError(f"the fleet double could not connect (refused: {self.refusals}); "
                               f"broker log:\n{self.broker.process.log_tail(40)}")
        return self

    def stop(self) -> None:
        self._acks.put(None)
        self.client.disconnect()
        self.client.loop_stop()
        self._ack_thread.join(5)

    def __enter__(self) -> FleetDouble:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self.refusals.append(str(reason))
            return
        for topic in controller_subscriptions(self.commune):
            client.subscribe(topic, qos=1)
        self.connected.set()

    # ------------------------------------------------------------------ receiving
    def _on_message(self, _c: mqtt.Client, _u: Any, message: Any) -> None:
        result = self.inbox.receive(message.topic, bytes(message.payload))
        now = time.monotonic()
        with self._changed:
            if isinstance(result, Rejected):
                self.rejected.append(result)
            else:
                self._record(now, result, bool(message.retain))
            self._changed.notify_all()

    def _record(self, now: float, received: AgentMessage, retained: bool) -> None:
        agent = received.address.agent_id or ""
        channel = received.address.channel
        msg = received.message
        if channel is AgentChannel.BIRTH:
            self.births.append((now, agent, msg))
        elif channel is AgentChannel.DEATH:
            self.deaths.append((now, agent, msg, retained))
        elif channel is AgentChannel.HEARTBEAT:
            self.heartbeats.append((now, agent, msg))
        elif channel is AgentChannel.TELEMETRY:
            self.telemetry.append((now, agent, msg))
        elif channel is AgentChannel.JOURNAL:
            self._store(now, agent, msg)

    def _store(self, now: float, agent: str, batch: JournalBatch) -> None:
        copy = self.journals[(agent, batch.journal_id)]
        seqs = []
        for entry in batch.entries:
            body = encode(entry.record)
            self.deliveries += 1
            seqs.append(entry.seq)
            known = copy.records.get(entry.seq)
            if known is None:
                copy.records[entry.seq] = body
            else:
                self.duplicates += 1
                if known != body:
                    self.conflicts.append((agent, batch.journal_id, entry.seq))
        gap_seqs = [s for g in batch.gaps for s in range(g.first, g.last + 1)]
        copy.gaps.update(gap_seqs)
        spans = [s for s in seqs] + [g.first for g in batch.gaps] + [g.last for g in batch.gaps]
        self.batches.append(BatchSeen(now, agent, batch.journal_id, min(spans, default=0),
                                      max(spans, default=0), len(batch.entries),
                                      len(batch.gaps), self._unacked[agent], tuple(seqs)))
        if not self.acking:
            return
        self._unacked[agent] += 1
        # Entries and declared gaps merge into maximal ranges: usually one per batch, far
        # below JournalAck's limit of 256 however many gaps a batch declares.
        ranges = merge(to_ranges(seqs) + [SeqRange(g.first, g.last) for g in batch.gaps])
        topic = agent_topic(self.commune, agent, AgentChannel.ACK)
        payload = self.signer.seal(Domain.JOURNAL_ACK, topic,
                                   JournalAck(batch.journal_id, ranges[:256]))
        self._acks.put((now + self.ack_delay_s, agent, topic, payload))

    def _ack_worker(self) -> None:
        while True:
            item = self._acks.get()
            if item is None:
                return
            due, agent, topic, payload = item
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.client.publish(topic, payload, qos=1)
            with self._changed:
                self.acks_sent += 1
                self._unacked[agent] = max(self._unacked[agent] - 1, 0)

    # ------------------------------------------------------------------ queries
    def wait_for(self, predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.2))
            return True

    def journal_ids(self, agent: str) -> list[bytes]:
        with self._lock:
            return [jid for (a, jid) in self.journals if a == agent]

    def records(self, agent: str, journal_id: bytes) -> dict[int, JournalRecord]:
        with self._lock:
            copy = self.journals.get((agent, journal_id))
            bodies = dict(copy.records) if copy else {}
        return {seq: msgspec.msgpack.decode(body, type=JournalRecord)
                for seq, body in sorted(bodies.items())}

    def raw_records(self, agent: str, journal_id: bytes) -> dict[int, bytes]:
        with self._lock:
            copy = self.journals.get((agent, journal_id))
            return dict(copy.records) if copy else {}

    def gaps(self, agent: str, journal_id: bytes) -> set[int]:
        with self._lock:
            copy = self.journals.get((agent, journal_id))
            return set(copy.gaps) if copy else set()

    def missing(self, agent: str, journal_id: bytes, up_to: int | None = None) -> list[int]:
        """Seqs in ``1..up_to`` (default: the highest seen) neither stored nor declared."""
        with self._lock:
            copy = self.journals.get((agent, journal_id))
            if copy is None:
                return list(range(1, (up_to or 0) + 1))
            top = up_to if up_to is not None else max(list(copy.records) + list(copy.gaps),
                                                      default=0)
            return [s for s in range(1, top + 1)
                    if s not in copy.records and s not in copy.gaps]

    def count(self, agent: str, journal_id: bytes) -> int:
        with self._lock:
            copy = self.journals.get((agent, journal_id))
            return len(copy.records) if copy else 0

    def heartbeats_of(self, agent: str) -> list[tuple[float, Heartbeat]]:
        with self._lock:
            return [(t, hb) for t, a, hb in self.heartbeats if a == agent]

    def batches_of(self, agent: str) -> list[BatchSeen]:
        with self._lock:
            return [b for b in self.batches if b.agent == agent]
