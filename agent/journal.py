"""The journal: what the agent did, durably, before anything is sent (principle 2).

Records are the wire's journal records (``protocols.messages``): boots, anchors,
availability intervals (open, extend every few minutes, close), events and play records.
Each gets the durable identity ``(agent_id, journal_id, seq)``: ``journal_id`` is random
per journal file (a reflashed or wiped agent starts a new journal, so nothing it says
can be mistaken for the old one's records), ``seq`` counts up and is never reused.

**Durability contract**: a record is durable once ``append()`` returns its ``seq``
(stdlib ``sqlite3``, WAL, ``synchronous=FULL``: the commit is on the card before we
return). ``None`` means it is not durable yet: see "disk full" below.

**Time** (principle 3): every record carries a ``Stamp`` (journal boot number, monotonic,
wall, quality). A ``Boot`` record maps a new kernel boot id to the next boot number. An
``Anchor`` is appended when the clock becomes trusted in this process and whenever the
wall clock steps (|Δwall − Δmono| above a threshold): the controller places spans by
their monotonic distance to an anchor of the same boot, so a wall step neither creates
nor deletes availability. An interval left open by a crash is closed ``RECOVERED`` at
its last extension when the journal is next opened.

**Bounded**, with this drop order when ``max_records`` is reached or the disk is full:

1. acknowledged records are pruned (the controller has them);
2. unacknowledged interval *extensions* coalesce: the latest per interval is kept, the
   removed ``seq``s are declared as gaps (``JournalBatch.gaps``);
3. unacknowledged *events* are dropped, oldest first, declared as gaps.

Play records, interval opens and closes, boots and anchors are never dropped: past the
bound they are still appended (and counted as ``over_bound``). When SQLite reports the
disk full even after pruning, a never-dropped record waits in a bounded in-memory queue
and is written, in order, before anything else as soon as space returns; nothing
crashes, and the counters say what happened (they go into telemetry).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import sqlite3
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any, TypeVar, cast

import msgspec

from protocols.clock import Clock
from protocols.codec import encode
from protocols.messages import (
    Anchor,
    Boot,
    CloseReason,
    Event,
    Evidence,
    IntervalClose,
    IntervalExtend,
    IntervalOpen,
    JournalEntry,
    JournalRecord,
    Play,
    SeqRange,
)
from protocols.timefields import Stamp

from .state import open_database

log = logging.getLogger("loaxa.agent.journal")

KERNEL_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
PAGE_SIZE = 4096


class Kind(IntEnum):
    """Record kinds as stored (the wire tag of each record type)."""

    BOOT = 1
    ANCHOR = 2
    OPEN = 3
    EXTEND = 4
    CLOSE = 5
    EVENT = 6
    PLAY = 7


KIND_OF: dict[type[Any], Kind] = {Boot: Kind.BOOT, Anchor: Kind.ANCHOR,
                                  IntervalOpen: Kind.OPEN, IntervalExtend: Kind.EXTEND,
                                  IntervalClose: Kind.CLOSE, Event: Kind.EVENT, Play: Kind.PLAY}
NEVER_DROPPED = frozenset({Kind.BOOT, Kind.ANCHOR, Kind.OPEN, Kind.CLOSE, Kind.PLAY})

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,           -- assigned from meta.next_seq: never reused
    kind INTEGER NOT NULL,
    interval INTEGER,                  -- the interval's seq, for opens/extends/closes
    boot INTEGER NOT NULL,
    mono_ns INTEGER NOT NULL,
    wall_ns INTEGER NOT NULL,
    body BLOB NOT NULL,                -- the record's wire encoding
    acked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS records_by_ack ON records(acked, seq);
CREATE TABLE IF NOT EXISTS gaps (
    first INTEGER PRIMARY KEY,         -- seqs deliberately dropped, declared to the controller
    last INTEGER NOT NULL,
    acked INTEGER NOT NULL DEFAULT 0
);
"""

_record_decoder: msgspec.msgpack.Decoder[JournalRecord] = msgspec.msgpack.Decoder(JournalRecord)
_stamp_decoder = msgspec.msgpack.Decoder(Stamp)


@dataclass(frozen=True)
class JournalLimits:
    max_records: int = 200_000
    max_mb: int | None = 64  # becomes SQLite's max_page_count: the file never grows past it
    max_pages: int | None = None  # overrides max_mb (tests use a handful of pages)
    step_threshold_ns: int = 1_000_000_000
    pending_max: int = 10_000


@dataclass
class JournalCounters:
    """What the journal had to do to stay within its bounds (reported in telemetry)."""

    pruned_acked: int = 0
    coalesced_extensions: int = 0
    dropped_events: int = 0
    over_bound: int = 0
    disk_full: int = 0
    write_errors: int = 0
    not_durable: int = 0  # appends that returned None
    pending_lost: int = 0  # queued records lost because the queue itself was full
    recovered_intervals: int = 0
    clock_steps: int = 0

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if v}


@dataclass(frozen=True)
class Backlog:
    records: int  # unacknowledged records
    gaps: int  # unacknowledged gap declarations
    oldest_age_s: int  # age of the oldest unacknowledged record (0 when none)
    only_extensions: bool  # nothing but interval extensions is waiting


@dataclass(frozen=True)
class Batch:
    """Unacknowledged records and gaps covering ``[first, last]``, oldest first."""

    entries: list[JournalEntry]
    gaps: list[SeqRange]
    first: int
    last: int
    size_estimate: int = 0


@dataclass
class _Pending:
    record: JournalRecord
    meta: dict[str, Any] = field(default_factory=dict)
    drop_meta: tuple[str, ...] = ()


class JournalError(RuntimeError):
    """The journal file cannot be opened or is not a loaxa journal."""


class InvalidRecord(ValueError):
    """A record that does not satisfy the wire contract (never stored)."""


F = TypeVar("F", bound=Callable[..., Any])


def _locked(method: F) -> F:
    """Run a method under the journal's lock (the playout thread may report too)."""
    @functools.wraps(method)
    def wrapper(self: Journal, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)
    return cast(F, wrapper)


def read_kernel_boot_id(path: Path = KERNEL_BOOT_ID) -> bytes | None:
    try:
        return uuid.UUID(path.read_text().strip()).bytes
    except (OSError, ValueError):
        return None


def _is_full(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL \
        or "full" in str(exc).lower()


class Journal:
    """One agent journal file. Used from one thread at a time (the service's main loop)."""

    def __init__(self, path: Path, clock: Clock, *, software: str = "",
                 boot_id_path: Path = KERNEL_BOOT_ID,
                 limits: JournalLimits | None = None) -> None:
        self.path = path
        self.clock = clock
        self.software = software[:256]
        self.limits = limits or JournalLimits()
        self.counters = JournalCounters()
        self._lock = threading.RLock()
        self._pending: deque[_Pending] = deque()
        try:
            self._conn = open_database(path)
            self._conn.executescript(SCHEMA)
            pages = self.limits.max_pages or (self.limits.max_mb * 1024 * 1024 // PAGE_SIZE
                                              if self.limits.max_mb else None)
            if pages:
                self._conn.execute(f"PRAGMA max_page_count={int(pages)}")
            self.journal_id = self._init_identity()
        except sqlite3.Error as exc:
            raise JournalError(f"cannot open the journal {path}: {exc}") from exc
        self._next_seq = int(self._meta("next_seq", 1))
        self.boot = int(self._meta("boot", 0))
        self._count_rows()
        self._open_interval: int | None = self._meta("open_interval")
        self._open_evidence = Evidence(int(self._meta("open_evidence", 0)))
        self._observed: tuple[int, int] | None = None
        self._trusted = False
        self._recover()
        self._start_boot(boot_id_path)

    # ------------------------------------------------------------------ identity and boots
    def _init_identity(self) -> bytes:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'journal_id'").fetchone()
        if row is not None:
            value = bytes(row[0])
            if len(value) != 16:
                raise JournalError(f"{self.path}: corrupt journal id")
            return value
        journal_id = uuid.uuid4().bytes
        self._conn.execute("INSERT INTO meta(key, value) VALUES ('journal_id', ?)", (journal_id,))
        log.info("new journal %s", uuid.UUID(bytes=journal_id))
        return journal_id

    def _meta(self, key: str, default: Any = None) -> Any:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row is not None else default

    def _count_rows(self) -> None:
        (self._total,) = self._conn.execute("SELECT COUNT(*) FROM records").fetchone()
        self._unacked, self._unacked_other = self._conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(kind != ?), 0) FROM records WHERE acked = 0",
            (int(Kind.EXTEND),)).fetchone()
        (self._unacked_gaps,) = self._conn.execute(
            "SELECT COUNT(*) FROM gaps WHERE acked = 0").fetchone()

    def _recover(self) -> None:
        """Close an interval a crash left open, at its last extension."""
        if self._open_interval is None:
            return
        last = self._meta("open_last")
        try:
            last_stamp = _stamp_decoder.decode(last)
        except (msgspec.DecodeError, msgspec.ValidationError, TypeError):
            last_stamp = self.stamp()
        interval = self._open_interval
        self._open_interval = None
        self.counters.recovered_intervals += 1
        log.info("closing interval %d left open by a crash", interval)
        self._append(IntervalClose(last_stamp, interval, CloseReason.RECOVERED),
                     drop_meta=("open_interval", "open_evidence", "open_last"), queue=True)

    def _start_boot(self, boot_id_path: Path) -> None:
        kernel = read_kernel_boot_id(boot_id_path)
        if kernel is None:
            # Without a boot id, monotonic times of two processes cannot be compared:
            # treating each start as a boot is the safe reading.
            log.warning("cannot read the kernel boot id from %s", boot_id_path)
            kernel = uuid.uuid4().bytes
        known = self._meta("kernel_boot_id")
        if known is not None and bytes(known) == kernel:
            return
        boot = self.boot + 1
        record = Boot(Stamp(boot, self.clock.monotonic_ns(), self.clock.wall_ns(),
                            self.clock.quality()), kernel, self.software)
        self.boot = boot
        self._append(record, meta={"boot": boot, "kernel_boot_id": kernel}, queue=True)

    def stamp(self) -> Stamp:
        return Stamp(self.boot, self.clock.monotonic_ns(), self.clock.wall_ns(),
                     self.clock.quality())

    # ------------------------------------------------------------------ appending
    def append(self, record: JournalRecord) -> int | None:
        """Append an event or play record; its ``seq`` once durable, else None.

        Raises ``InvalidRecord`` for a record the wire contract would refuse: the
        controller decodes whole batches, so one bad record would block the journal.
        """
        if isinstance(record, (IntervalOpen, IntervalExtend, IntervalClose, Boot)):
            raise InvalidRecord("intervals and boots are managed by the journal itself")
        if type(record) not in KIND_OF:
            raise InvalidRecord(f"not a journal record: {type(record).__name__}")
        try:
            _record_decoder.decode(encode(record))
        except (msgspec.ValidationError, msgspec.DecodeError, TypeError) as exc:
            raise InvalidRecord(f"{type(record).__name__}: {exc}") from exc
        return self._append(record, queue=KIND_OF[type(record)] in NEVER_DROPPED)

    def event(self, code: str, detail: str = "") -> int | None:
        """Journal an event; ``code`` is made a valid identifier rather than refused."""
        return self.append(Event(self.stamp(), event_code(code), detail[:1024]))

    @property
    def open_interval(self) -> int | None:
        return self._open_interval

    @property
    def interval_evidence(self) -> Evidence:
        return self._open_evidence

    @_locked
    def open(self, evidence: Evidence) -> int | None:
        """Open an availability interval (closing none: call ``close`` first)."""
        if self._open_interval is not None:
            return self._open_interval
        stamp = self.stamp()
        seq = self._append(IntervalOpen(stamp, evidence), queue=False,
                           meta={"open_evidence": int(evidence), "open_last": encode(stamp)},
                           open_interval=True)
        if seq is not None:
            self._open_interval = seq
            self._open_evidence = evidence
        return seq

    @_locked
    def extend(self) -> int | None:
        """Extend the open interval: the evidence that it lasted at least until now."""
        if self._open_interval is None:
            return None
        stamp = self.stamp()
        return self._append(IntervalExtend(stamp, self._open_interval, self._open_evidence),
                            meta={"open_last": encode(stamp)}, queue=False)

    @_locked
    def close(self, reason: CloseReason) -> int | None:
        if self._open_interval is None:
            return None
        interval = self._open_interval
        self._open_interval = None
        return self._append(IntervalClose(self.stamp(), interval, reason),
                            drop_meta=("open_interval", "open_evidence", "open_last"), queue=True)

    @_locked
    def observe_clock(self) -> None:
        """Anchor when the clock becomes trusted, and on every wall-clock step."""
        mono, wall, quality = (self.clock.monotonic_ns(), self.clock.wall_ns(),
                               self.clock.quality())
        step = None
        if self._observed is not None:
            drift = (wall - self._observed[1]) - (mono - self._observed[0])
            if abs(drift) > self.limits.step_threshold_ns:
                step = drift
        self._observed = (mono, wall)
        stamp = Stamp(self.boot, mono, wall, quality)
        if step is not None:
            self.counters.clock_steps += 1
            log.warning("wall clock stepped by %+.3f s", step / 1e9)
            self._append(Event(stamp, "clock-step", f"{step // 1_000_000:+d} ms"), queue=False)
        trusted = quality.trusted
        if trusted and (not self._trusted or step is not None):
            self._append(Anchor(stamp), queue=True)
        self._trusted = trusted

    def flush_pending(self) -> bool:
        """Write queued records if space has returned; True when none are waiting."""
        with self._lock:
            while self._pending:
                item = self._pending[0]
                if self._write(item) is None:
                    return False
                self._pending.popleft()
            return True

    @property
    def pending(self) -> int:
        return len(self._pending)

    def _append(self, record: JournalRecord, *, queue: bool, meta: dict[str, Any] | None = None,
                drop_meta: tuple[str, ...] = (), open_interval: bool = False) -> int | None:
        item = _Pending(record, dict(meta or {}), drop_meta)
        with self._lock:
            seq = self._write(item, open_interval) if self.flush_pending() else None
            if seq is None:
                self._not_durable(item, queue)
            return seq

    def _not_durable(self, item: _Pending, queue: bool) -> None:
        self.counters.not_durable += 1
        if queue:
            if len(self._pending) >= self.limits.pending_max:
                self._pending.popleft()
                self.counters.pending_lost += 1
            self._pending.append(item)

    def _write(self, item: _Pending, open_interval: bool = False) -> int | None:
        """Insert one record durably, making room as the drop order allows; never raises."""
        kind = KIND_OF[type(item.record)]
        if self._total >= self.limits.max_records:
            self._make_room(full=False)
            if self._total >= self.limits.max_records:
                self.counters.over_bound += 1
                if kind not in NEVER_DROPPED and kind is not Kind.EXTEND:
                    # An event past the bound with nothing left to drop: not kept.
                    return None
        for attempt in range(4):
            try:
                return self._insert(item, kind, open_interval)
            except sqlite3.Error as exc:
                self._rollback()
                if not _is_full(exc):
                    self.counters.write_errors += 1
                    log.error("journal write failed: %s", exc)
                    return None
                self.counters.disk_full += 1
                if attempt == 3 or not self._make_room(full=True, stage=attempt):
                    log.error("journal full: %s record not written yet", kind.name.lower())
                    return None
        return None

    def _insert(self, item: _Pending, kind: Kind, open_interval: bool) -> int:
        record = item.record
        seq = self._next_seq
        interval = seq if open_interval else getattr(record, "interval", None)
        stamp: Stamp = record.stamp
        meta = dict(item.meta)
        if open_interval:
            meta["open_interval"] = seq
        meta["next_seq"] = seq + 1
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO records(seq, kind, interval, boot, mono_ns, wall_ns, body) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (seq, int(kind), interval, stamp.boot, stamp.mono_ns, stamp.wall_ns,
                      encode(record)))
        conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) "
                         "DO UPDATE SET value = excluded.value", list(meta.items()))
        conn.executemany("DELETE FROM meta WHERE key = ?", [(k,) for k in item.drop_meta])
        conn.execute("COMMIT")
        self._next_seq = seq + 1
        self._total += 1
        self._unacked += 1
        if kind is not Kind.EXTEND:
            self._unacked_other += 1
        return seq

    def _rollback(self) -> None:
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    # ------------------------------------------------------------------ the drop order
    def _make_room(self, *, full: bool, stage: int = 2) -> bool:
        """Free space in the documented order; True if anything was freed.

        Over the record bound all stages run until the journal is back under 90% of it.
        On a full disk, ``stage`` says how far down the order the caller has got: each
        retry of a failed insert goes one stage further.
        """
        target = int(self.limits.max_records * 0.9)
        freed = self._prune_acked()
        if (full and stage == 0 and freed) or (not full and self._total <= target):
            return freed > 0 or not full
        coalesced = self._coalesce_extensions()
        freed += coalesced
        if (full and stage <= 1 and coalesced) or (not full and self._total <= target):
            return freed > 0 or not full
        excess = max(self._total - target, 1) if not full else max(self._total // 10, 1)
        freed += self._drop_events(excess)
        return freed > 0

    def _prune_acked(self) -> int:
        def run(conn: sqlite3.Connection) -> int:
            removed = conn.execute("DELETE FROM records WHERE acked = 1").rowcount
            conn.execute("DELETE FROM gaps WHERE acked = 1")
            return int(removed)

        removed = self._transaction(run)
        if removed:
            self._total -= removed
            self.counters.pruned_acked += removed
            log.info("pruned %d acknowledged journal records", removed)
        return removed

    def _coalesce_extensions(self) -> int:
        rows = self._conn.execute("SELECT seq, interval FROM records WHERE acked = 0 AND kind = ? "
                                  "ORDER BY seq", (int(Kind.EXTEND),)).fetchall()
        latest: dict[int, int] = {}
        for seq, interval in rows:
            latest[interval] = seq
        keep = set(latest.values())
        drop = [seq for seq, _ in rows if seq not in keep]
        removed = self._drop(drop)
        if removed:
            self._total -= removed
            self._unacked -= removed
            self.counters.coalesced_extensions += removed
            log.warning("coalesced %d unacknowledged interval extensions", removed)
        return removed

    def _drop_events(self, count: int) -> int:
        rows = self._conn.execute("SELECT seq FROM records WHERE acked = 0 AND kind = ? "
                                  "ORDER BY seq LIMIT ?", (int(Kind.EVENT), count)).fetchall()
        removed = self._drop([seq for (seq,) in rows])
        if removed:
            self._total -= removed
            self._unacked -= removed
            self._unacked_other -= removed
            self.counters.dropped_events += removed
            log.warning("dropped the %d oldest unacknowledged events", removed)
        return removed

    def _drop(self, seqs: Sequence[int]) -> int:
        """Delete unacknowledged records and declare their seqs as gaps, atomically."""
        if not seqs:
            return 0
        ranges = to_ranges(seqs)

        def run(conn: sqlite3.Connection) -> int:
            conn.executemany("DELETE FROM records WHERE seq = ? AND acked = 0",
                             [(s,) for s in seqs])
            conn.executemany("INSERT OR REPLACE INTO gaps(first, last, acked) VALUES (?, ?, 0)",
                             [(r.first, r.last) for r in ranges])
            return len(seqs)

        removed = self._transaction(run)
        if removed:
            self._unacked_gaps += len(ranges)
        return removed

    def _transaction(self, body: Callable[[sqlite3.Connection], int]) -> int:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            result = body(self._conn)
            self._conn.execute("COMMIT")
            return result
        except sqlite3.Error as exc:
            self._rollback()
            self.counters.write_errors += 1
            log.error("journal maintenance failed: %s", exc)
            return 0

    # ------------------------------------------------------------------ forwarding
    def batch(self, after: int = 0, *, max_records: int = 200, max_bytes: int = 32 * 1024,
              max_gaps: int = 256) -> Batch | None:
        """The oldest unacknowledged records and gaps with ``seq > after``, within limits."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, body FROM records WHERE acked = 0 AND seq > ? ORDER BY seq LIMIT ?",
                (after, max_records)).fetchall()
            gap_rows = self._conn.execute(
                "SELECT first, last FROM gaps WHERE acked = 0 AND last > ? ORDER BY first "
                "LIMIT ?", (after, max_gaps + 1)).fetchall()
        items: list[tuple[int, int, bytes | None]] = [(s, s, bytes(b)) for s, b in rows]
        items += [(f, last, None) for f, last in gap_rows]
        items.sort(key=lambda i: i[0])
        entries: list[JournalEntry] = []
        gaps: list[SeqRange] = []
        size = 48
        first = last = None
        for start, end, body in items:
            cost = (len(body) + 12) if body is not None else 12
            if first is not None and (size + cost > max_bytes or len(entries) >= max_records
                                      or (body is None and len(gaps) >= max_gaps)):
                break
            if body is not None:
                try:
                    entries.append(JournalEntry(start, _record_decoder.decode(body)))
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    # Unreadable on disk (bit rot): declare it rather than block the queue.
                    log.error("journal record %d unreadable (%s): declared as a gap", start, exc)
                    gaps.append(SeqRange(start, start))
            else:
                gaps.append(SeqRange(start, end))
            size += cost
            first = start if first is None else first
            last = end if last is None else max(last, end)
        if first is None or last is None:
            return None
        return Batch(entries, gaps, first, last, size)

    def acknowledge(self, ranges: Iterable[SeqRange]) -> int:
        """Mark records and gaps inside the acknowledged ranges; returns records newly acked."""
        spans = [(r.first, r.last) for r in ranges if r.first <= r.last]
        if not spans:
            return 0
        tally = [0, 0, 0]  # records, records other than extensions, gaps

        def run(conn: sqlite3.Connection) -> int:
            for first, last in spans:
                count, other = conn.execute(
                    "SELECT COUNT(*), COALESCE(SUM(kind != ?), 0) FROM records "
                    "WHERE acked = 0 AND seq BETWEEN ? AND ?",
                    (int(Kind.EXTEND), first, last)).fetchone()
                conn.execute("UPDATE records SET acked = 1 WHERE acked = 0 "
                             "AND seq BETWEEN ? AND ?", (first, last))
                tally[2] += conn.execute("UPDATE gaps SET acked = 1 WHERE acked = 0 "
                                         "AND first >= ? AND last <= ?", (first, last)).rowcount
                tally[0] += count
                tally[1] += other
            return 1

        with self._lock:
            if self._transaction(run):
                self._unacked -= tally[0]
                self._unacked_other -= tally[1]
                self._unacked_gaps -= tally[2]
        return tally[0]

    def backlog(self) -> Backlog:
        with self._lock:
            row = self._conn.execute("SELECT boot, mono_ns, wall_ns FROM records WHERE acked = 0 "
                                     "ORDER BY seq LIMIT 1").fetchone()
        age = 0
        if row is not None:
            boot, mono, wall = row
            now_mono = self.clock.monotonic_ns()
            if boot == self.boot and now_mono >= mono:
                age = (now_mono - mono) // 10**9
            else:
                # Another boot: at least this boot's uptime, more if the wall clock says so.
                age = max(now_mono, self.clock.wall_ns() - wall) // 10**9
        return Backlog(self._unacked, self._unacked_gaps, int(max(age, 0)),
                       self._unacked_other == 0 and self._unacked_gaps == 0)

    @property
    def last_seq(self) -> int:
        return self._next_seq - 1

    def played_slots(self, since_wall_ns: int, *, unless_reason: str = "") -> frozenset[str]:
        """Slot ids with a play record since ``since_wall_ns``: after a restart the engine
        must not air them again — except those whose only records give ``unless_reason``
        (a clean stop cut them; the new run restarts or joins them as after a crash).
        (Play records are never dropped before acknowledgement; acknowledged ones are
        pruned only under the size bound, oldest first.)"""
        with self._lock:
            rows = self._conn.execute("SELECT body FROM records WHERE kind = ? AND wall_ns >= ?",
                                      (int(Kind.PLAY), since_wall_ns)).fetchall()
        found = set()
        for (body,) in rows:
            record = _record_decoder.decode(body)
            if isinstance(record, Play) and not (unless_reason and
                                                 record.reason == unless_reason):
                found.add(record.slot_id)
        return frozenset(found)

    # ------------------------------------------------------------------ inspection
    def entries(self, *, include_acked: bool = True) -> list[tuple[int, JournalRecord, bool]]:
        """Every stored record as ``(seq, record, acknowledged)`` (tests, technicians)."""
        query = "SELECT seq, body, acked FROM records " + \
            ("" if include_acked else "WHERE acked = 0 ") + "ORDER BY seq"
        with self._lock:
            rows = self._conn.execute(query).fetchall()
        return [(seq, _record_decoder.decode(body), bool(acked)) for seq, body, acked in rows]

    def gaps(self, *, include_acked: bool = True) -> list[SeqRange]:
        query = "SELECT first, last FROM gaps " + \
            ("" if include_acked else "WHERE acked = 0 ") + "ORDER BY first"
        with self._lock:
            return [SeqRange(f, last) for f, last in self._conn.execute(query).fetchall()]

    def close_file(self) -> None:
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._conn.close()


def event_code(text: str) -> str:
    """``text`` as a wire identifier: lower case, other characters turned into ``-``."""
    cleaned = re.sub(r"[^a-z0-9_-]", "-", str(text).lower())[:64].lstrip("-_")
    return cleaned or "event"


def to_ranges(seqs: Iterable[int]) -> list[SeqRange]:
    """Sorted, merged ranges of the given sequence numbers."""
    ranges: list[SeqRange] = []
    for seq in sorted(set(seqs)):
        if ranges and ranges[-1].last + 1 == seq:
            ranges[-1] = SeqRange(ranges[-1].first, seq)
        else:
            ranges.append(SeqRange(seq, seq))
    return ranges


def wipe(path: Path) -> None:
    """Delete a journal file and its WAL companions (a reflash, as far as the journal sees)."""
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")
