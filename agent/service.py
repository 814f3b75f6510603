"""The village agent as a service: journal, link, forwarder and playout, composed.

One main loop owns the journal and every decision; the MQTT link has its own network
thread, the playout engine its own threads, and both only post events to the main
loop's queue. That keeps the journal single-writer (its durability is simple to reason
about) and lets the loop prove its progress to the systemd watchdog.

What the loop does, in order of importance:

* availability: an interval is open while the agent runs, extended every
  ``journal.extend_s``, closed ``STOPPED`` on SIGTERM (a crash leaves it to be closed
  ``RECOVERED`` at the next start), reopened when the audio path's evidence changes;
* time: every turn looks at the clock, so trust and wall steps are anchored at once;
* store and forward, with acks verified by ``ControlInbox``;
* heartbeats (live only, QoS 0) and full telemetry (retained, on change);
* documents (stored in ``AgentState`` then committed) and commands (volume, stop,
  restart, reboot through an injectable hook);
* ``WATCHDOG=1`` only while the network loop and playout keep turning.

Nothing a controller (or an attacker) sends can stop the loop: every handler runs
behind a catch-all that logs and counts. Repeated failures of the loop itself withhold
the watchdog, so systemd restarts a wedged agent.
"""

from __future__ import annotations

import logging
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from protocols.acceptance import DocumentVerdict
from protocols.clock import Clock
from protocols.codec import Rejected, RejectionCounter, encode
from protocols.inbox import (
    DOCUMENT_TYPES,
    AckAccepted,
    CommandAccepted,
    ControlInbox,
    DocumentAccepted,
)
from protocols.messages import (
    PROTOCOL_VERSION,
    AgentConfig,
    Birth,
    CloseReason,
    DocVersion,
    Evidence,
    Heartbeat,
    Play,
    Reboot,
    RestartService,
    SetVolume,
    StopPlayback,
    Telemetry,
)
from protocols.sdnotify import Notifier
from protocols.topics import AgentChannel, DocKind, agent_topic
from protocols.trust import TrustStore

from .broadcaster import Broadcaster
from .config import AgentSettings, ConfigError
from .forwarder import Forwarder, ForwardSettings
from .journal import (
    KERNEL_BOOT_ID,
    InvalidRecord,
    Journal,
    JournalError,
    JournalLimits,
    read_kernel_boot_id,
)
from .link import Incoming, LinkDown, LinkSettings, LinkUp, MqttLink
from .playout import STOPPED_REASON
from .playout_api import Playout
from .state import TRUST_SETTING, AgentState
from .telemetry import SystemReadings
from .timesource import TimeSource, time_source
from .version import SOFTWARE
from .watchdog import ProgressGate

log = logging.getLogger("loaxa.agent")

EXIT_OK = 0
EXIT_SOFTWARE = 70  # EX_SOFTWARE: an internal error stopped the agent
EXIT_CONFIG = 78  # EX_CONFIG: not enrolled, or the configuration cannot be used

SESSION_COUNTER = "mqtt-session"
PLAYED_LOOKBACK_NS = 2 * 86_400 * 10**9  # a slot's window never spans more than this
REFRESH_S = 300.0
CAPABILITIES = ("journal", "anchors", "will-delay")
TICK_S = 0.5
ERROR_STREAK_LIMIT = 5


class NotEnrolled(ConfigError):
    """The data directory has no trust store: run ``loaxa agent enroll`` first."""


@dataclass(frozen=True)
class _PlayReported:
    play: Play


@dataclass(frozen=True)
class _EventReported:
    code: str
    detail: str


def open_journal(path: Path, clock: Clock, boot_id_path: Path,
                 limits: JournalLimits) -> Journal:
    """Open the journal; a corrupt file is set aside and a new journal started.

    The box must keep airing whatever happened to its SD card (principle 1): refusing to
    start would mean silence until a technician comes. The new journal has a new
    ``journal_id``, so nothing it says can be mixed up with the old file's records, and its
    first event says what happened.
    """
    try:
        return Journal(path, clock, software=SOFTWARE, boot_id_path=boot_id_path,
                       limits=limits)
    except JournalError as exc:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        kept = path.with_name(f"{path.name}.corrupt-{stamp}")
        log.error("%s: setting it aside as %s and starting a new journal", exc, kept.name)
        for suffix in ("", "-wal", "-shm"):
            old = Path(f"{path}{suffix}")
            if old.exists():
                old.rename(Path(f"{kept}{suffix}"))
        journal = Journal(path, clock, software=SOFTWARE, boot_id_path=boot_id_path,
                          limits=limits)
        journal.event("journal-replaced", f"{exc}; old file kept as {kept.name}")
        return journal


def default_reboot(command: Sequence[str]) -> Callable[[], None]:
    """Run the configured reboot command without waiting for it."""
    def reboot() -> None:
        log.warning("rebooting as commanded: %s", " ".join(command))
        try:
            subprocess.Popen(list(command), stdin=subprocess.DEVNULL,
                             start_new_session=True)
        except OSError as exc:
            log.error("reboot command failed: %s", exc)
    return reboot


class AgentService:
    """Everything ``loaxa agent run`` does. ``run()`` returns the process exit code."""

    def __init__(self, settings: AgentSettings, *, clock: Clock | None = None,
                 playout: Playout | None = None, notifier: Notifier | None = None,
                 readings: SystemReadings | None = None, boot_id_path: Path = KERNEL_BOOT_ID,
                 reboot: Callable[[], None] | None = None,
                 restart: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self.notifier = notifier or Notifier()
        data = settings.data_dir
        data.mkdir(parents=True, exist_ok=True)
        self.readings = readings or SystemReadings(disk=data)
        self.reboot = reboot or default_reboot(settings.commands.reboot)
        # Restart = a clean stop; systemd's Restart=always starts the agent again.
        self.restart = restart or (lambda: self.request_stop(EXIT_OK))
        self.state = AgentState(data / "state.db")
        raw_trust = self.state.setting(TRUST_SETTING)
        if raw_trust is None:
            self.state.close()
            raise NotEnrolled("agent.data_dir", f"{data} holds no trust store: "
                                                "run `loaxa agent enroll` first")
        try:
            trust = TrustStore.from_bytes(raw_trust)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            self.state.close()
            raise NotEnrolled("agent.data_dir", f"the trust store in {data} is corrupt: "
                                                f"{exc}") from exc
        # The kernel clock, or the controller's as estimated by the clock exchange.
        self.time: TimeSource = time_source(settings, self.state, clock,
                                            boot_id=read_kernel_boot_id(boot_id_path))
        self.clock: Clock = self.time.clock
        agent = settings.agent
        journal = settings.journal
        self.journal = open_journal(
            data / "journal.db", self.clock, boot_id_path,
            JournalLimits(max_records=journal.max_records, max_mb=journal.max_mb,
                          step_threshold_ns=settings.clock.step_threshold_ms * 10**6))
        # The real loudspeakers unless a test hands in its own stand-in.
        self.playout: Playout = playout or Broadcaster(
            settings, self.clock, boot=self.journal.boot,
            done_slots=self.journal.played_slots(self.clock.wall_ns() - PLAYED_LOOKBACK_NS,
                                                 unless_reason=STOPPED_REASON))
        self.events: queue.Queue[Any] = queue.Queue()
        broker = settings.broker
        self.link = MqttLink(
            LinkSettings(commune=agent.commune, agent_id=agent.id, host=broker.host,
                         port=broker.port, username=settings.username,
                         password=settings.broker_password(), ca_pem=settings.ca_pem(),
                         keepalive_s=broker.keepalive_s,
                         session_expiry_s=broker.session_expiry_s,
                         will_delay_s=broker.will_delay_s,
                         connect_timeout_s=broker.connect_timeout_s,
                         reconnect_min_s=broker.reconnect_min_s,
                         reconnect_max_s=broker.reconnect_max_s,
                         topic_alias=broker.topic_alias),
            self.events, next_session=lambda: self.state.next_counter(SESSION_COUNTER),
            birth=self._birth)
        self.forwarder = Forwarder(
            self.journal, self._send_batch, self.clock,
            ForwardSettings(batch_records=journal.batch_records,
                            batch_bytes=journal.batch_kb * 1024, window=journal.window,
                            ack_timeout_s=journal.ack_timeout_s,
                            ack_timeout_max_s=journal.ack_timeout_max_s,
                            linger_s=journal.linger_s))
        self.rejections = RejectionCounter()
        self.inbox = ControlInbox(agent.commune, agent.id, trust, self.state, self.clock,
                                  self.rejections, on_trust_change=self._persist_trust)
        self._topics = {channel: agent_topic(agent.commune, agent.id, channel)
                        for channel in (AgentChannel.HEARTBEAT, AgentChannel.TELEMETRY,
                                        AgentChannel.JOURNAL)}
        self.heartbeat_s = settings.heartbeat.interval_s
        self.extend_s = journal.extend_s
        self.gate = ProgressGate(int(settings.watchdog.stall_s * 1e9))
        self.errors = 0
        self._error_streak = 0
        self._exit: int | None = None
        self._started_ns = self.clock.monotonic_ns()
        self._next: dict[str, float] = {}
        self._telemetry_sent: Telemetry | None = None
        self._telemetry_dirty = True
        self._telemetry_sent_at = -1e18
        self.heartbeats_sent = 0
        self.watchdog_pings = 0

    # ------------------------------------------------------------------ lifecycle
    def request_stop(self, code: int = EXIT_OK) -> None:
        """Ask the main loop to stop (safe from signal handlers and other threads)."""
        if self._exit is None:
            self._exit = code

    def run(self, stop_requested: threading.Event | None = None) -> int:
        """Run until stopped; ``stop_requested`` carries a signal that came during start-up."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: self.request_stop(EXIT_OK))
            signal.signal(signal.SIGINT, lambda *_: self.request_stop(EXIT_OK))
        if stop_requested is not None and stop_requested.is_set():
            self.request_stop(EXIT_OK)
        try:
            self._start()
            while self._exit is None:
                self._iterate()
        except Exception:
            log.exception("the agent stopped on an internal error")
            self._exit = EXIT_SOFTWARE
        finally:
            self._teardown()
        return self._exit if self._exit is not None else EXIT_OK

    def _start(self) -> None:
        self.time.start()
        self._restore_documents()
        self.playout.start(lambda play: self.events.put(_PlayReported(play)),
                           lambda code, detail: self.events.put(_EventReported(code, detail)))
        self.journal.observe_clock()
        self.journal.open(self._evidence())
        now = time.monotonic()
        self._next = {"extend": now + self.extend_s, "heartbeat": now + self.heartbeat_s,
                      "telemetry": now + 1.0, "watchdog": now, "refresh": now + REFRESH_S}
        mono = self.clock.monotonic_ns()
        self.gate.watch("network", lambda: self.link.progress()[0], mono)
        self.gate.watch("playout", self.playout.progress_marker, mono)
        self.link.start()
        self.notifier.ready(f"journal {self.journal.last_seq} records, connecting to "
                            f"{self.settings.broker.host}:{self.settings.broker.port}")
        log.info("agent %s of %s started (journal boot %d, seq %d)", self.settings.agent.id,
                 self.settings.agent.commune, self.journal.boot, self.journal.last_seq)

    def _teardown(self) -> None:
        self.notifier.stopping("stopping")
        # Playout first: stopping it finalises the airing it cuts (a PARTIAL play record)
        # and queues that record for the main loop, which has stopped: journal it here,
        # before the interval closes and the last batch goes out.
        try:
            self.playout.close()
        except Exception:
            log.exception("error while stopping playout")
        self._journal_reports_left()
        try:
            self.journal.close(CloseReason.STOPPED)
            self._flush_on_stop()
        except Exception:
            log.exception("error while closing the journal")
        self.link.stop()
        try:
            self.time.stop()
        except Exception:
            log.exception("error while stopping the clock exchange")
        self.journal.close_file()
        self.state.close()
        self.notifier.close()
        log.info("agent stopped")

    def _journal_reports_left(self) -> None:
        """Play records and events playout reported after the main loop's last turn."""
        while True:
            try:
                item = self.events.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _PlayReported | _EventReported):
                self._safely(self._handle, item)

    def _flush_on_stop(self, budget_s: float = 1.5) -> None:
        """Give the closing records a moment to reach the controller (best effort)."""
        deadline = time.monotonic() + budget_s
        self.forwarder.pump(flush=True)
        while self.forwarder.in_flight and self.link.connected and time.monotonic() < deadline:
            try:
                item = self.events.get(timeout=0.05)
            except queue.Empty:
                continue
            if isinstance(item, Incoming):
                self._safely(self._incoming, item)

    # ------------------------------------------------------------------ the loop
    def _iterate(self) -> None:
        wait = max(0.0, min(TICK_S, min(self._next.values()) - time.monotonic()))
        try:
            item = self.events.get(timeout=wait)
        except queue.Empty:
            item = None
        for _ in range(200):  # drain a burst, but keep ticking
            if item is None:
                break
            self._safely(self._handle, item)  # one bad message is logged and counted
            try:
                item = self.events.get_nowait()
            except queue.Empty:
                item = None
        # The loop's own work failing again and again is what a restart may cure.
        ok = self._safely(self._tick)
        self._error_streak = 0 if ok else self._error_streak + 1
        if self._error_streak >= ERROR_STREAK_LIMIT:
            self.gate.block("main", f"{self._error_streak} failing turns in a row")
        else:
            self.gate.unblock("main")

    def _safely(self, fn: Callable[..., None], *args: Any) -> bool:
        try:
            fn(*args)
            return True
        except Exception:
            self.errors += 1
            log.exception("error in %s", getattr(fn, "__name__", "handler"))
            return False

    def _handle(self, item: Any) -> None:
        if isinstance(item, Incoming):
            self._incoming(item)
        elif isinstance(item, LinkUp):
            self.forwarder.link_up()
            self.notifier.status(f"online (session {item.session}), "
                                 f"backlog {self.journal.backlog().records}")
        elif isinstance(item, LinkDown):
            self.forwarder.link_down()
            self.notifier.status(f"offline ({item.reason}), journalling locally")
        elif isinstance(item, _PlayReported):
            try:
                self.journal.append(item.play)
            except InvalidRecord as exc:
                log.error("playout reported an invalid play record: %s", exc)
                self.journal.event("invalid-play", str(exc))
        elif isinstance(item, _EventReported):
            self.journal.event(item.code, item.detail)

    def _tick(self) -> None:
        now = time.monotonic()
        self.journal.observe_clock()
        self._check_evidence()
        if now >= self._next["extend"]:
            self._next["extend"] = now + self.extend_s
            self.journal.extend()
        if now >= self._next["refresh"]:
            self._next["refresh"] = now + REFRESH_S
            self.playout.refresh()
            self.time.save()
        self.journal.flush_pending()
        self.forwarder.tick()
        if now >= self._next["heartbeat"]:
            self._next["heartbeat"] = now + self.heartbeat_s
            if self.link.connected:
                self._send_heartbeat()
        if now >= self._next["telemetry"]:
            self._next["telemetry"] = now + min(self.settings.heartbeat.telemetry_min_s, 30.0)
            if self.link.connected:
                self._maybe_send_telemetry()
        if now >= self._next["watchdog"]:
            interval = (self.notifier.watchdog_s or 30.0) / 3
            self._next["watchdog"] = now + max(interval, 0.1)
            self._feed_watchdog()

    def _evidence(self) -> Evidence:
        try:
            return Evidence(self.playout.evidence())
        except Exception:
            log.exception("playout evidence unavailable")
            return Evidence.PROCESS

    def _check_evidence(self) -> None:
        evidence = self._evidence()
        if self.journal.open_interval is None:
            self.journal.open(evidence)  # after a failed write (disk full), try again
            return
        current = self.journal.interval_evidence
        if evidence != current:
            # A weaker audio path ends the interval as unhealthy; a stronger one starts
            # a new interval that can claim the higher evidence level.
            self.journal.close(CloseReason.UNHEALTHY if evidence < current
                               else CloseReason.STOPPED)
            self.journal.open(evidence)

    def _feed_watchdog(self) -> None:
        stalled = self.gate.stalled(self.clock.monotonic_ns())
        if not self.link.alive:
            stalled.append("network: thread died")
        if stalled:
            log.error("withholding the watchdog: %s", "; ".join(stalled))
            self.notifier.status("stalled: " + "; ".join(stalled))
            return
        if self.notifier.watchdog():
            self.watchdog_pings += 1

    # ------------------------------------------------------------------ controller messages
    def _incoming(self, item: Incoming) -> None:
        result = self.inbox.receive(item.topic, item.payload)
        if isinstance(result, Rejected):
            return
        if isinstance(result, AckAccepted):
            self.forwarder.on_ack(result.ack)
        elif isinstance(result, DocumentAccepted):
            self._document(result)
        elif isinstance(result, CommandAccepted):
            self._command(result)

    def _document(self, accepted: DocumentAccepted) -> None:
        if accepted.verdict is not DocumentVerdict.APPLY:
            return
        kind = accepted.kind
        # An emergency is heard first and stored after: its durable writes (fsyncs, tens
        # of ms on an SD card) must not delay it. Should the agent die in between, the
        # mark is not committed, so the broker's retained copy is applied again.
        urgent = kind is DocKind.EMERGENCY
        if urgent:
            self._apply_document(kind, accepted.document)
        self.state.save_document(kind.value, accepted.mark, encode(accepted.document))
        self.inbox.commit(accepted)
        if not urgent:
            self._apply_document(kind, accepted.document)
        self.journal.event("doc-applied", f"{kind.value} {accepted.mark.epoch}."
                                          f"{accepted.mark.version}")
        self._telemetry_dirty = True

    def _apply_document(self, kind: DocKind, document: Any) -> None:
        if kind is DocKind.CONFIG and isinstance(document, AgentConfig):
            self.heartbeat_s = float(document.heartbeat_s)
            self.extend_s = float(document.journal_extend_s)
            self.playout.set_volume(document.volume)
            now = time.monotonic()
            self._next["heartbeat"] = min(self._next.get("heartbeat", now), now + self.heartbeat_s)
            self._next["extend"] = min(self._next.get("extend", now), now + self.extend_s)
        if kind is not DocKind.TRUST:
            self.playout.apply_document(kind.value, document)

    def _restore_documents(self) -> None:
        """Hand the documents applied before this start back to playout."""
        for kind, (type_, _cap) in DOCUMENT_TYPES.items():
            if kind is DocKind.TRUST:
                continue
            stored = self.state.document(kind.value)
            if stored is None:
                continue
            try:
                document = msgspec.msgpack.decode(stored[1], type=type_)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                log.error("stored %s document unreadable: %s", kind.value, exc)
                continue
            self._safely(self._apply_document, kind, document)

    def _command(self, accepted: CommandAccepted) -> None:
        action = accepted.command.action
        if isinstance(action, SetVolume):
            self.journal.event("cmd-volume", str(action.level))
            self.playout.set_volume(action.level)
            self._telemetry_dirty = True
        elif isinstance(action, StopPlayback):
            self.journal.event("cmd-stop")
            self.playout.stop()
        elif isinstance(action, RestartService):
            self.journal.event("cmd-restart")
            self.restart()
        elif isinstance(action, Reboot):
            self.journal.event("cmd-reboot")
            self.reboot()

    def _persist_trust(self, trust: TrustStore) -> None:
        self.state.set_setting(TRUST_SETTING, trust.to_bytes())

    # ------------------------------------------------------------------ outgoing
    def _send_batch(self, payload: bytes) -> bool:
        return self.link.publish(self._topics[AgentChannel.JOURNAL], payload, qos=1)

    def _applied(self) -> dict[str, DocVersion]:
        marks = self.state.marks()
        return {name[4:]: mark for name, mark in sorted(marks.items())
                if name.startswith("doc:")}

    def _birth(self, session: int) -> bytes:
        """Called from the network thread on every CONNACK."""
        return encode(Birth(PROTOCOL_VERSION, self.settings.agent.id, session, SOFTWARE,
                            list(CAPABILITIES), self._applied(), self.journal.journal_id,
                            self.journal.stamp()))

    def _send_heartbeat(self) -> None:
        backlog = self.journal.backlog()
        source, offset, _ = self.time.report()
        playing = self.playout.now_playing()
        heartbeat = Heartbeat(
            stamp=self.journal.stamp(), session=self.link.session,
            uptime_s=_u32(self.readings.uptime_s()),
            disk_free_mb=_u32(self.readings.disk_space().free_mb),
            volume=max(0, min(100, int(self.playout.volume))), amp_on=bool(self.playout.amp_on),
            playing=str(playing)[:64] if playing else None, clock_source=source,
            clock_offset_us=offset, link=self.link.stats(),
            backlog_records=_u32(backlog.records), backlog_oldest_s=_u32(backlog.oldest_age_s),
            cpu_temp_dc=self.readings.cpu_temp_dc(), throttled=self.readings.throttled())
        if self.link.publish(self._topics[AgentChannel.HEARTBEAT], encode(heartbeat), qos=0,
                             alias=True):
            self.heartbeats_sent += 1

    def counters(self) -> dict[str, int]:
        """Refusals, journal health and loop errors: reported in telemetry's counter map."""
        found = dict(self.rejections.snapshot())
        found.update({f"journal/{k}": v for k, v in self.journal.counters.as_dict().items()})
        # Only the forwarder's anomalies: its routine counters change with every batch and
        # would re-send the retained telemetry each time (4G bytes).
        forward = self.forwarder.counters
        found.update({f"forward/{k}": v for k, v in (("timeouts", forward.timeouts),
                                                    ("stale_acks", forward.stale_acks)) if v})
        if self.journal.pending:
            found["journal/pending"] = self.journal.pending
        if self.errors:
            found["agent/errors"] = self.errors
        return {k[:256]: _u32(v) for k, v in sorted(found.items())[:64]}

    def _telemetry(self) -> Telemetry:
        disk = self.readings.disk_space()
        source, offset, uncertainty = self.time.report()
        return Telemetry(
            stamp=self.journal.stamp(), software=SOFTWARE, hostname=self.readings.hostname(),
            os=self.readings.os_name(), uptime_s=_u32(self.readings.uptime_s()),
            disk_total_mb=_u32(disk.total_mb), disk_free_mb=_u32(disk.free_mb),
            rss_kb=_u32(self.readings.rss_kb()), volume=max(0, min(100, int(self.playout.volume))),
            amp_on=bool(self.playout.amp_on), sink=str(self.playout.sink)[:256],
            clock_source=source, clock_offset_us=offset, clock_uncertainty_us=uncertainty,
            cache=self.playout.cache_state(), applied=self._applied(), rejected=self.counters(),
            cpu_temp_dc=self.readings.cpu_temp_dc(), throttled=self.readings.throttled())

    def _maybe_send_telemetry(self) -> None:
        """Retained full telemetry when something worth knowing changed (not the uptime)."""
        now = time.monotonic()
        if not self._telemetry_dirty and \
                now - self._telemetry_sent_at < self.settings.heartbeat.telemetry_min_s:
            return
        telemetry = self._telemetry()
        if not self._telemetry_dirty and not telemetry_changed(self._telemetry_sent, telemetry):
            return
        if self.link.publish(self._topics[AgentChannel.TELEMETRY], encode(telemetry), qos=1,
                             retain=True):
            self._telemetry_sent = telemetry
            self._telemetry_dirty = False
            self._telemetry_sent_at = now


DISK_STEP_MB = 512
DISK_LOW_MB = 1024
TEMP_STEP_DC = 100
# The box's own clock wanders against the controller's (tens of ppm: a few seconds a
# day); heartbeats carry the live offset, retained telemetry is re-sent past this.
OFFSET_STEP_US = 100_000


def telemetry_changed(before: Telemetry | None, after: Telemetry) -> bool:
    """Whether ``after`` says something ``before`` did not: every field but the stamp,
    uptime and RSS, with hysteresis on the ones that wander (disk space, temperature,
    clock offset) so a value hovering at a boundary does not re-send retained telemetry
    over 4G."""
    if before is None:
        return True
    stable = ("software", "hostname", "os", "disk_total_mb", "volume", "amp_on", "sink",
              "clock_source", "cache", "applied", "rejected", "throttled")
    if any(getattr(before, name) != getattr(after, name) for name in stable):
        return True
    if (before.clock_offset_us is None) != (after.clock_offset_us is None):
        return True
    if before.clock_offset_us is not None and after.clock_offset_us is not None and \
            abs(after.clock_offset_us - before.clock_offset_us) >= OFFSET_STEP_US:
        return True
    if abs(after.disk_free_mb - before.disk_free_mb) >= DISK_STEP_MB or \
            (after.disk_free_mb < DISK_LOW_MB) != (before.disk_free_mb < DISK_LOW_MB):
        return True
    if (before.cpu_temp_dc is None) != (after.cpu_temp_dc is None):
        return True
    return before.cpu_temp_dc is not None and after.cpu_temp_dc is not None and \
        abs(after.cpu_temp_dc - before.cpu_temp_dc) >= TEMP_STEP_DC

def _u32(value: int) -> int:
    return max(0, min(int(value), 2**32 - 1))

