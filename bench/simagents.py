"""Many simulated village agents in one process: paho clients on one selector loop.

A real agent is a whole Python process; a thousand of them on a 2-core machine would
measure CPU contention, not loaxa (DESIGN §6). A simulated agent here is what the
controller sees of a real one, built from the same parts where it matters:

* the same paho client and options as ``agent/link.py`` (``protocols.mqtt.new_client``:
  MQTT 5, TLS against the private CA, per-agent credentials, clean start off, session
  expiry, a Last Will ``Death(session)`` held back by a Will delay), a new session number
  on every connection, the retained ``Birth`` sent on the turn after CONNACK, the
  subscriptions with "retained only if new", telemetry once, QoS 0 heartbeats with a
  topic alias, reconnect with the agent's back-off and jitter;
* the journal backlog driven by the real ``agent.forwarder.Forwarder`` (oldest first,
  at most 200 records / 32 KiB per batch, a window of 2, go-back-N on ack timeouts,
  lingering extensions) over an in-memory journal that batches exactly like
  ``agent.journal.Journal``; acknowledgements are verified by the real
  ``protocols.inbox.ControlInbox`` (Ed25519) before the forwarder sees them.

Left out: the agent's SQLite journal and its main loop. Every agent of a process is served
by one thread (``select`` over all sockets, paho's ``loop_read/loop_write/loop_misc``), and
processes are started with ``start_workers``; the parent talks to each over a pipe.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import resource
import selectors
import ssl
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from agent.forwarder import Forwarder, ForwardSettings
from agent.journal import Backlog, Batch
from protocols.acceptance import MemoryWatermarks
from protocols.clock import SystemClock
from protocols.codec import encode
from protocols.inbox import AckAccepted, ControlInbox
from protocols.messages import (
    PROTOCOL_VERSION,
    Anchor,
    Birth,
    Boot,
    CacheState,
    ClockSource,
    CloseReason,
    Death,
    Event,
    Evidence,
    Heartbeat,
    IntervalClose,
    IntervalExtend,
    IntervalOpen,
    JournalEntry,
    JournalRecord,
    LinkStats,
    SeqRange,
    Telemetry,
    TrustBundle,
)
from protocols.mqtt import connect_properties, new_client
from protocols.timefields import Stamp, TimeQuality
from protocols.topics import AgentChannel, agent_subscriptions, agent_topic
from protocols.trust import TrustStore

S = 1_000_000_000
SOFTWARE = "loaxa-agent 0.1.0 (simulated)"
DAY_S = 86_400


# --------------------------------------------------------------------------- the journal
def day_of_records(day_start_wall_ns: int, boot: int = 1, *, extend_s: int = 300,
                   events: int = 4, seconds: int = DAY_S) -> list[JournalRecord]:
    """What a real agent journals in a day with nothing scheduled: its boot, an anchor
    (time trusted from the start), an open interval, an extension every ``extend_s``
    (288 a day), a few events (documents applied, a volume command) and the close."""
    mono0 = 40 * S  # the agent started 40 s after the kernel booted

    def stamp(t: float) -> Stamp:
        return Stamp(boot, mono0 + int(t * S), day_start_wall_ns + int(t * S),
                     TimeQuality.SYNCED)

    timed: list[tuple[float, int, JournalRecord]] = [
        (0.0, 0, Boot(stamp(0), uuid.uuid4().bytes, SOFTWARE)),
        (0.0, 1, Anchor(stamp(0))),
        (0.0, 2, IntervalOpen(stamp(0), Evidence.PROCESS)),
    ]
    # The open's seq is 3 (records are numbered in time order, and these three come first).
    interval = 3
    timed += [(float(t), 3, IntervalExtend(stamp(t), interval, Evidence.PROCESS))
              for t in range(extend_s, seconds + 1, extend_s)]
    codes = [("doc-applied", "plan 1.7"), ("doc-applied", "config 1.3"), ("cmd-volume", "70"),
             ("doc-applied", "plan 1.8")]
    for i in range(events):
        t = seconds * (i + 1) / (events + 1) + 17.0
        code, detail = codes[i % len(codes)]
        timed.append((t, 4, Event(stamp(t), code, detail)))
    timed.append((float(seconds) + 1.0, 5, IntervalClose(stamp(seconds + 1.0), interval,
                                                           CloseReason.STOPPED)))
    timed.sort(key=lambda item: (item[0], item[1]))
    return [record for _, _, record in timed]


class MemJournal:
    """The parts of ``agent.journal.Journal`` the forwarder uses, in memory, with the same
    batching rules (oldest first, record and byte limits, ``seq > after``)."""

    def __init__(self, journal_id: bytes, clock: SystemClock, boot: int) -> None:
        self.journal_id = journal_id
        self.boot = boot
        self._clock = clock
        self._next_seq = 1
        self._unacked: list[tuple[int, JournalEntry, int]] = []  # (seq, entry, body bytes)
        self._unacked_other = 0  # unacknowledged records other than extensions
        self.appended = 0
        self.acked = 0

    def append(self, record: JournalRecord) -> int:
        seq = self._next_seq
        self._next_seq += 1
        self._unacked.append((seq, JournalEntry(seq, record), len(encode(record))))
        self.appended += 1
        if not isinstance(record, IntervalExtend):
            self._unacked_other += 1
        return seq

    def stamp(self) -> Stamp:
        return Stamp(self.boot, self._clock.monotonic_ns(), self._clock.wall_ns(),
                     TimeQuality.SYNCED)

    def batch(self, after: int = 0, *, max_records: int = 200, max_bytes: int = 32 * 1024,
              max_gaps: int = 256) -> Batch | None:
        entries: list[JournalEntry] = []
        size = 48
        first = last = None
        for seq, entry, body in self._unacked:
            if seq <= after:
                continue
            cost = body + 12
            if first is not None and (size + cost > max_bytes or len(entries) >= max_records):
                break
            entries.append(entry)
            size += cost
            first = seq if first is None else first
            last = seq
        if first is None or last is None:
            return None
        return Batch(entries, [], first, last, size)

    def acknowledge(self, ranges: Sequence[SeqRange]) -> int:
        spans = [(r.first, r.last) for r in ranges if r.first <= r.last]
        keep: list[tuple[int, JournalEntry, int]] = []
        newly = 0
        for item in self._unacked:
            seq = item[0]
            if any(first <= seq <= last for first, last in spans):
                newly += 1
                if not isinstance(item[1].record, IntervalExtend):
                    self._unacked_other -= 1
            else:
                keep.append(item)
        self._unacked = keep
        self.acked += newly
        return newly

    def backlog(self) -> Backlog:
        if not self._unacked:
            return Backlog(0, 0, 0, True)
        oldest = self._unacked[0][1].record.stamp
        now_mono = self._clock.monotonic_ns()
        if oldest.boot == self.boot and now_mono >= oldest.mono_ns:
            age = (now_mono - oldest.mono_ns) // S
        else:
            age = max(now_mono, self._clock.wall_ns() - oldest.wall_ns) // S
        return Backlog(len(self._unacked), 0, int(max(age, 0)), self._unacked_other == 0)


# --------------------------------------------------------------------------- one agent
@dataclass(frozen=True)
class SimSettings:
    commune: str
    host: str
    port: int
    ca_pem: bytes
    trust: TrustBundle
    heartbeat_s: float = 60.0
    extend_s: float = 300.0
    keepalive_s: int = 120
    will_delay_s: int = 90
    session_expiry_s: int = 86_400
    connect_timeout_s: float = 15.0
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 120.0
    forward: ForwardSettings = field(default_factory=ForwardSettings)
    backlog_days: float = 0.0  # journal this much of an offline day before connecting
    backlog_events: int = 4
    forward_at_start: bool = True  # False: hold the backlog until the parent says "go"
    connects_per_turn: int = 25
    tick_s: float = 1.0


class SimAgent:
    def __init__(self, agent_id: str, password: str, settings: SimSettings,
                 fleet: SimFleet, rng: random.Random) -> None:
        self.agent_id = agent_id
        self.settings = settings
        self.fleet = fleet
        self.rng = rng
        self.clock = fleet.clock
        client = new_client(f"loaxa-{agent_id}", agent_id, password, settings.ca_pem)
        client.connect_timeout = settings.connect_timeout_s
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write
        self.client = client
        c = settings.commune
        self.topics = {ch: agent_topic(c, agent_id, ch) for ch in (
            AgentChannel.BIRTH, AgentChannel.DEATH, AgentChannel.HEARTBEAT,
            AgentChannel.TELEMETRY, AgentChannel.JOURNAL)}
        self.journal = MemJournal(uuid.uuid4().bytes, self.clock, boot=2)
        if settings.backlog_days > 0:
            seconds = int(settings.backlog_days * DAY_S)
            start = self.clock.wall_ns() - (seconds + 600) * S
            for record in day_of_records(start, boot=1, events=settings.backlog_events,
                                         seconds=seconds):
                self.journal.append(record)
        # This run's boot: the agent starts, anchors (its clock is synced) and opens.
        now = self.journal.stamp()
        self.journal.append(Boot(now, uuid.uuid4().bytes, SOFTWARE))
        self.journal.append(Anchor(now))
        self.interval = self.journal.append(IntervalOpen(now, Evidence.PROCESS))
        self.forwarder = Forwarder(self.journal, self._send_batch, self.clock, settings.forward)
        self.inbox = ControlInbox(c, agent_id, TrustStore.from_bundle(settings.trust),
                                  MemoryWatermarks(), self.clock)
        self.session = 0
        self.session_counter = 0
        self.pending_session = 0
        self.connected = False
        self.attempts = 0
        self.retry_at = 0.0
        self.announce: bool | None = None
        self.subscribed_once = False
        self.telemetry_sent = False
        self.alias_max = 0
        self.alias_set = False
        self.sock: Any = None
        self.write_wanted = False
        self.started = time.monotonic()
        t = time.monotonic()
        self.next_hb = t + rng.uniform(0, settings.heartbeat_s)
        self.next_extend = t + rng.uniform(0, settings.extend_s)
        self.next_tick = t + rng.uniform(0, settings.tick_s)
        self.next_misc = t + rng.uniform(0, 1.0)
        self.next_due = 0.0  # the earliest of the above (or of the next connect attempt)
        # counters
        self.connects = 0
        self.failed_connects = 0
        self.disconnects = 0
        self.heartbeats = 0
        self.acks = 0
        self.connected_at: float | None = None

    # ------------------------------------------------------------------ connection
    def connect(self) -> None:
        s = self.settings
        # Like ``AgentState.next_counter``: every attempt takes a new session number.
        self.session_counter += 1
        session = self.session_counter
        will = Properties(PacketTypes.WILLMESSAGE)  # type: ignore[no-untyped-call]
        will.WillDelayInterval = s.will_delay_s
        self.client.will_set(self.topics[AgentChannel.DEATH],
                             encode(Death(self.agent_id, session)), qos=1, retain=True,
                             properties=will)
        self.pending_session = session
        try:
            self.client.connect(s.host, s.port, keepalive=s.keepalive_s, clean_start=False,
                                properties=connect_properties(s.session_expiry_s))
        except (OSError, ssl.SSLError, ValueError):
            self.failed_connects += 1
            self._schedule_retry()

    def _schedule_retry(self) -> None:
        s = self.settings
        delay = min(s.reconnect_max_s, s.reconnect_min_s * 2 ** self.attempts)
        self.attempts = min(self.attempts + 1, 30)
        self.retry_at = time.monotonic() + delay * self.rng.uniform(0.5, 1.0)

    def _on_connect(self, _c: Any, _u: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self.failed_connects += 1
            self._schedule_retry()
            return
        self.connected = True
        self.connected_at = time.monotonic()
        self.session = self.pending_session
        self.attempts = 0
        self.connects += 1
        self.alias_set = False
        self.alias_max = int(getattr(properties, "TopicAliasMaximum", 0) or 0)
        self.announce = bool(getattr(flags, "session_present", False))
        self.fleet.announcing.add(self)

    def announce_connection(self) -> None:
        present, self.announce = self.announce, None
        if present is None or not self.connected:
            return
        s = self.settings
        birth = Birth(PROTOCOL_VERSION, self.agent_id, self.session, SOFTWARE,
                      ["journal", "anchors", "will-delay"], {}, self.journal.journal_id,
                      self.journal.stamp())
        self.client.publish(self.topics[AgentChannel.BIRTH], encode(birth), qos=1, retain=True)
        if not present or not self.subscribed_once:
            options = SubscribeOptions(qos=1,
                                       retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
            self.client.subscribe([(topic, options) for topic in
                                   agent_subscriptions(s.commune, self.agent_id)])
            self.subscribed_once = True
        if not self.telemetry_sent:
            self.client.publish(self.topics[AgentChannel.TELEMETRY], encode(self._telemetry()),
                                qos=1, retain=True)
            self.telemetry_sent = True
        if self.fleet.forwarding:
            self.forwarder.link_up()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, _reason: Any, _p: Any) -> None:
        was = self.connected
        self.connected = False
        self.next_due = 0.0
        self.forwarder.link_down()
        self._schedule_retry()
        if was:
            self.disconnects += 1
            self.retry_at = time.monotonic() + self.settings.reconnect_min_s * \
                self.rng.uniform(0.5, 1.0)

    def _on_message(self, _c: Any, _u: Any, message: Any) -> None:
        result = self.inbox.receive(str(message.topic), bytes(message.payload))
        if isinstance(result, AckAccepted):
            self.acks += 1
            self.forwarder.on_ack(result.ack)

    # ------------------------------------------------------------------ selector plumbing
    def _on_socket_open(self, _c: Any, _u: Any, sock: Any) -> None:
        self.sock = sock
        self.write_wanted = False
        self.fleet.selector.register(sock, selectors.EVENT_READ, self)

    def _on_socket_close(self, _c: Any, _u: Any, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.fleet.selector.unregister(sock)
        self.sock = None
        self.fleet.pending_ssl.discard(self)

    def _on_register_write(self, _c: Any, _u: Any, sock: Any) -> None:
        if sock is self.sock and not self.write_wanted:
            self.write_wanted = True
            with contextlib.suppress(KeyError, ValueError):
                self.fleet.selector.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE,
                                           self)

    def _on_unregister_write(self, _c: Any, _u: Any, sock: Any) -> None:
        if sock is self.sock and self.write_wanted:
            self.write_wanted = False
            with contextlib.suppress(KeyError, ValueError):
                self.fleet.selector.modify(sock, selectors.EVENT_READ, self)

    def read(self) -> None:
        self.client.loop_read()
        sock = self.sock
        pending = getattr(sock, "pending", None)
        if sock is not None and callable(pending) and pending() > 0:
            self.fleet.pending_ssl.add(self)
        else:
            self.fleet.pending_ssl.discard(self)

    def write(self) -> None:
        self.client.loop_write()

    # ------------------------------------------------------------------ timers
    def timers(self, now: float) -> None:
        if self.client.socket() is None:
            if now >= self.retry_at and self.fleet.connect_budget > 0:
                self.fleet.connect_budget -= 1
                self.connect()
            self.next_due = self.retry_at
            return
        if now >= self.next_misc:
            self.next_misc = now + 1.0
            self.client.loop_misc()
        if now >= self.next_extend:
            self.next_extend = now + self.settings.extend_s
            if not self.fleet.frozen:
                self.journal.append(IntervalExtend(self.journal.stamp(), self.interval,
                                                   Evidence.PROCESS))
        if now >= self.next_tick:
            self.next_tick = now + self.settings.tick_s
            self.forwarder.tick()
            if self.fleet.frozen:
                self.forwarder.pump(flush=True)
        if now >= self.next_hb:
            self.next_hb = now + self.settings.heartbeat_s
            if self.connected:
                self._send_heartbeat()
        self.next_due = min(self.next_misc, self.next_extend, self.next_tick, self.next_hb)

    # ------------------------------------------------------------------ outgoing
    def _send_batch(self, payload: bytes) -> bool:
        if not self.connected:
            return False
        self.client.publish(self.topics[AgentChannel.JOURNAL], payload, qos=1)
        return True

    def _send_heartbeat(self) -> None:
        backlog = self.journal.backlog()
        beat = Heartbeat(
            stamp=self.journal.stamp(), session=self.session,
            uptime_s=int(time.monotonic() - self.started) + 3600, disk_free_mb=12_345,
            volume=80, amp_on=False, playing=None, clock_source=ClockSource.NTP,
            clock_offset_us=None, link=LinkStats(self.heartbeats * 60, self.heartbeats * 20,
                                                 max(self.connects - 1, 0)),
            backlog_records=backlog.records, backlog_oldest_s=backlog.oldest_age_s,
            cpu_temp_dc=512, throttled=0)
        topic, properties = self.topics[AgentChannel.HEARTBEAT], None
        if self.alias_max > 0:
            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            properties.TopicAlias = 1
            if self.alias_set:
                topic = ""
            self.alias_set = True
        self.client.publish(topic, encode(beat), qos=0, properties=properties)
        self.heartbeats += 1

    def _telemetry(self) -> Telemetry:
        return Telemetry(stamp=self.journal.stamp(), software=SOFTWARE,
                         hostname=self.agent_id, os="Debian GNU/Linux 12 (bookworm)",
                         uptime_s=3600, disk_total_mb=29_000, disk_free_mb=12_345,
                         rss_kb=30_000, volume=80, amp_on=False, sink="null",
                         clock_source=ClockSource.NTP, clock_offset_us=None,
                         clock_uncertainty_us=None, cache=CacheState(0, 0, 0, 0), applied={},
                         rejected={}, cpu_temp_dc=512, throttled=0)


# --------------------------------------------------------------------------- many agents
class SimFleet:
    """Every agent of this process on one selector, served by the calling thread."""

    def __init__(self, accounts: Sequence[tuple[str, str]], settings: SimSettings,
                 seed: int = 0) -> None:
        self.settings = settings
        self.clock = SystemClock(trust="always")
        self.selector = selectors.DefaultSelector()
        self.pending_ssl: set[SimAgent] = set()
        self.announcing: set[SimAgent] = set()
        self.forwarding = settings.forward_at_start
        self.connect_budget = 0
        self.frozen = False  # no more extensions; send what lingers (end of a run)
        rng = random.Random(seed)
        self.agents = [SimAgent(a, p, settings, self, random.Random(rng.random()))
                       for a, p in accounts]
        self._stop = False

    def go(self) -> None:
        """Start forwarding the backlog (agents already connected get their link-up)."""
        self.forwarding = True
        for agent in self.agents:
            if agent.connected:
                agent.forwarder.link_up()
            agent.next_due = 0.0

    def run(self, control: Any = None) -> None:
        """Serve every agent until ``stop()``; ``control`` (a Connection) is polled too."""
        if control is not None:
            self.selector.register(control, selectors.EVENT_READ, None)
        next_timers = 0.0
        while not self._stop:
            now = time.monotonic()
            if now >= next_timers:
                next_timers = now + 0.05
                self.connect_budget = self.settings.connects_per_turn
                for agent in self.agents:
                    if agent.next_due > now:
                        continue
                    try:
                        agent.timers(now)
                    except Exception as exc:  # pragma: no cover - a bug in the simulation
                        print(f"{agent.agent_id}: {type(exc).__name__}: {exc}", flush=True)
            timeout = 0.0 if self.pending_ssl else 0.05
            for key, mask in self.selector.select(timeout):
                if key.data is None:
                    self._command(control)
                    continue
                agent = key.data
                if mask & selectors.EVENT_READ:
                    agent.read()
                if mask & selectors.EVENT_WRITE and agent.sock is not None:
                    agent.write()
            for agent in list(self.pending_ssl):
                agent.read()
            while self.announcing:
                self.announcing.pop().announce_connection()

    def stop(self) -> None:
        self._stop = True

    def stats(self) -> dict[str, Any]:
        agents = self.agents
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "agents": len(agents),
            "connected": sum(a.connected for a in agents),
            "appended": sum(a.journal.appended for a in agents),
            "acked": sum(a.journal.acked for a in agents),
            "batches_sent": sum(a.forwarder.counters.batches_sent for a in agents),
            "records_sent": sum(a.forwarder.counters.records_sent for a in agents),
            "timeouts": sum(a.forwarder.counters.timeouts for a in agents),
            "acks": sum(a.acks for a in agents),
            "heartbeats": sum(a.heartbeats for a in agents),
            "connects": sum(a.connects for a in agents),
            "failed_connects": sum(a.failed_connects for a in agents),
            "disconnects": sum(a.disconnects for a in agents),
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "maxrss_kb": usage.ru_maxrss,
        }

    def journals(self) -> dict[str, tuple[str, int, int, int]]:
        """Per agent: ``(journal_id hex, appended, acked, session)``."""
        return {a.agent_id: (a.journal.journal_id.hex(), a.journal.appended, a.journal.acked,
                             a.session) for a in self.agents}

    def _command(self, control: Any) -> None:
        try:
            command = control.recv()
        except EOFError:
            self._stop = True
            return
        name = command[0]
        if name == "go":
            self.go()
            control.send(("ok", time.time()))
        elif name == "stats":
            control.send(("ok", self.stats()))
        elif name == "freeze":
            self.frozen = True
            control.send(("ok", None))
        elif name == "journals":
            control.send(("ok", self.journals()))
        elif name == "stop":
            self._stop = True
            for agent in self.agents:
                with contextlib.suppress(Exception):
                    agent.client.disconnect()
                    agent.client.loop_write()
            control.send(("ok", self.stats()))


def worker_main(control: Any, accounts: list[tuple[str, str]], settings: SimSettings,
                seed: int) -> None:
    """A worker process: build the agents, serve them until told to stop."""
    fleet = SimFleet(accounts, settings, seed)
    control.send(("ok", os.getpid()))
    fleet.run(control)


@dataclass
class Worker:
    process: Any
    control: Any

    def ask(self, *command: Any, timeout: float = 120.0) -> Any:
        self.control.send(command)
        if not self.control.poll(timeout):
            raise TimeoutError(f"simulated-agent worker did not answer {command[0]!r}")
        status, value = self.control.recv()
        assert status == "ok", value
        return value


def start_workers(accounts: Sequence[tuple[str, str]], settings: SimSettings,
                  processes: int) -> list[Worker]:
    """Split the agents over ``processes`` worker processes (spawned, each one thread)."""
    context = multiprocessing.get_context("spawn")
    workers = []
    for index in range(processes):
        mine = list(accounts[index::processes])
        parent, child = context.Pipe()
        process = context.Process(target=worker_main, args=(child, mine, settings, index),
                                  name=f"simagents-{index}", daemon=True)
        process.start()
        workers.append(Worker(process, parent))
    for worker in workers:
        if not worker.control.poll(300):
            raise TimeoutError("a simulated-agent worker did not start")
        worker.control.recv()
    return workers


def total(workers: Sequence[Worker], command: str = "stats") -> dict[str, Any]:
    """Every worker's ``stats`` summed (CPU and counters add up; max RSS per worker)."""
    summed: dict[str, Any] = {}
    for worker in workers:
        for key, value in worker.ask(command).items():
            if key == "maxrss_kb":
                summed[key] = max(summed.get(key, 0), value)
            else:
                summed[key] = summed.get(key, 0) + value
    return summed


def stop_workers(workers: Sequence[Worker]) -> dict[str, Any]:
    summed: dict[str, Any] = {}
    for worker in workers:
        try:
            stats = worker.ask("stop", timeout=30)
            for key, value in stats.items():
                summed[key] = max(summed.get(key, 0), value) if key == "maxrss_kb" \
                    else summed.get(key, 0) + value
        except (TimeoutError, EOFError, OSError, BrokenPipeError):
            pass
        worker.process.join(10)
        if worker.process.is_alive():
            worker.process.terminate()
            worker.process.join(5)
    return summed
