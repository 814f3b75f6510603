"""The real controller side of the fleet benchmarks, and the machine they ran on.

* ``Rig``: a real Mosquitto configured by ``controller/broker/`` (TLS, a password-file
  account per agent plus the controller's, the generated ACL, persistence) and a
  migrated database (a SQLite file, or a fresh PostgreSQL database dropped afterwards)
  holding the commune and its agents as active registry rows.
* ``controller_main``: the controller's fleet side in a process of its own, so its CPU
  and memory can be read from ``/proc``: the real ``FleetLink`` (paho network thread,
  ``PresenceTracker``, the batching ingest worker with ``JournalIngest`` and the
  ``RollupMaintainer``, signed acks), the real ``ActiveAgents`` check, the trust bundle
  published retained and presence swept and flushed every 5 s, as ``FleetComponent``
  does. The only addition: the tracker notes ``receipt - send`` for every heartbeat.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import platform
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from controller.broker.accounts import BrokerAccount, Role, mosquitto_hash, new_password
from controller.broker.files import BrokerLayout, ListenerSettings, write_broker_files
from controller.broker.process import MosquittoProcess
from controller.storage.database import Database
from controller.storage.tables.fleet import JournalRecord
from controller.storage.tables.registry import AdminUnit, Agent, AgentStatus, UnitLevel
from protocols.keys import SigningIdentity
from protocols.messages import TrustBundle, TrustedKey

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("LOAXA_BENCH_PG_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
CONTROLLER_USER = "ctl-bench"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- the machine
def machine() -> dict[str, Any]:
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": platform.release(),
            "python": platform.python_version(), "loadavg": os.getloadavg()}


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_kb(pid: int) -> tuple[int, int]:
    """``(VmRSS, VmHWM)`` in KiB."""
    rss = hwm = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
        elif line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
    return rss, hwm


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in parts]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class LoadSampler:
    """Samples the load average and the machine's busy CPU while a run goes on."""

    def __init__(self, every_s: float = 5.0) -> None:
        self.samples: list[float] = []
        self._every = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.busy0 = machine_busy_s()
        self.t0 = time.monotonic()

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.busy_s = machine_busy_s() - self.busy0
        self.wall_s = time.monotonic() - self.t0

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.samples.append(os.getloadavg()[0])

    def summary(self) -> str:
        loads = self.samples or [os.getloadavg()[0]]
        return (f"load average (1 min) {min(loads):.1f}-{max(loads):.1f}; the machine was "
                f"busy {self.busy_s / self.wall_s:.2f} of its {os.cpu_count()} cores "
                f"over {self.wall_s:.0f} s")


# --------------------------------------------------------------------------- broker + db
@dataclass
class Rig:
    root: Path
    commune: str
    agents: list[tuple[str, str]]  # (agent id, broker password)
    controller_password: str
    broker: MosquittoProcess
    layout: BrokerLayout
    db_url: str
    commune_id: int
    identity: SigningIdentity
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return self.broker.port

    @property
    def ca_pem(self) -> bytes:
        return self.layout.ca_cert.read_bytes()

    def trust_bundle(self) -> TrustBundle:
        return TrustBundle(version=1, issued_ns=time.time_ns(), commune=self.commune,
                           keys=[TrustedKey(self.identity.key_id, self.identity.public_key)])


def prepare_registry(db_url: str, commune: str, ids: list[str]) -> int:
    """Migrate the database and register the commune and its agents (active)."""
    db = Database(db_url)
    try:
        db.upgrade()
        with db.transaction() as session:
            unit = AdminUnit(key=commune, level=UnitLevel.COMMUNE)
            session.add(unit)
            session.flush()
            assert unit.id is not None
            commune_id = unit.id
            for agent_id in ids:
                session.add(Agent(id=agent_id, commune_id=commune_id,
                                  status=AgentStatus.ACTIVE))
    finally:
        db.dispose()
    return commune_id


def agent_ids(n: int) -> list[str]:
    return [f"ag-{i:05d}" for i in range(1, n + 1)]


@contextlib.contextmanager
def rig(n_agents: int, backend: str = "sqlite", commune: str = "xa-bench",
        workdir: Path | None = None, keep: bool = False,
        ids: list[str] | None = None) -> Iterator[Rig]:
    """Broker files for ``n_agents`` accounts, a running Mosquitto, a migrated database."""
    root = Path(tempfile.mkdtemp(prefix="loaxa-bench-", dir=workdir))
    ids = ids if ids is not None else agent_ids(n_agents)
    agents = [(agent_id, new_password()) for agent_id in ids]
    controller_password = new_password()
    accounts = [BrokerAccount(CONTROLLER_USER, mosquitto_hash(controller_password),
                              Role.CONTROLLER, commune)]
    accounts += [BrokerAccount(a, mosquitto_hash(p), Role.AGENT, commune) for a, p in agents]
    layout = BrokerLayout(root / "broker")
    port = free_port()
    write_broker_files(layout, ListenerSettings(port=port), accounts)
    broker = MosquittoProcess(layout, port)
    pg_name = None
    if backend == "sqlite":
        db_url = f"sqlite:///{root / 'loaxa.db'}"
    else:
        pg_name = f"loaxa_bench_{secrets.token_hex(5)}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{pg_name}"'))
        admin.dispose()
        db_url = make_url(PG_ADMIN_URL).set(database=pg_name).render_as_string(
            hide_password=False)
    try:
        commune_id = prepare_registry(db_url, commune, [a for a, _ in agents])
        broker.start()
        yield Rig(root, commune, agents, controller_password, broker, layout, db_url,
                  commune_id, SigningIdentity.generate())
    finally:
        broker.stop()
        if pg_name is not None:
            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
            admin.dispose()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def db_backend_cpu(db_url: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving ``db_url``'s database (empty for
    SQLite, which runs inside the controller process)."""
    url = make_url(db_url)
    if url.get_backend_name() != "postgresql":
        return {}
    engine = create_engine(PG_ADMIN_URL)
    try:
        with engine.connect() as conn:
            pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :d"),
                                {"d": url.database}).scalars().all()
    finally:
        engine.dispose()
    found = {}
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            found[int(pid)] = proc_cpu_s(int(pid))
    return found


def db_cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def stored_journals(db_url: str) -> dict[str, tuple[str, int, int, int]]:
    """Per agent: ``(journal_id, rows, min seq, max seq)`` as stored (one journal each)."""
    db = Database(db_url)
    try:
        with db.engine.connect() as conn:
            rows = conn.execute(select(
                JournalRecord.agent_id, JournalRecord.journal_id, func.count(),
                func.min(JournalRecord.seq), func.max(JournalRecord.seq)).group_by(
                JournalRecord.agent_id, JournalRecord.journal_id)).all()
    finally:
        db.dispose()
    found: dict[str, tuple[str, int, int, int]] = {}
    for agent_id, journal_id, n, low, high in rows:
        assert agent_id not in found, f"{agent_id} has more than one journal"
        found[agent_id] = (journal_id, int(n), int(low), int(high))
    return found


def verify_exactly_once(db_url: str, journals: dict[str, tuple[str, int, int, int]]
                        ) -> tuple[int, list[str]]:
    """Compare what every simulated agent journalled with what the controller stored:
    one row per (agent, journal, seq), seqs 1..n with none missing. Returns the stored
    total and a list of problems (empty when every record is there exactly once)."""
    stored = stored_journals(db_url)
    problems = []
    total = 0
    for agent_id, (journal_id, appended, acked, _session) in journals.items():
        got = stored.get(agent_id)
        if got is None:
            problems.append(f"{agent_id}: nothing stored")
            continue
        jid, rows, low, high = got
        total += rows
        if jid != journal_id or rows != appended or low != 1 or high != appended:
            problems.append(f"{agent_id}: journal {jid} rows {rows} seq {low}..{high}, "
                            f"expected {journal_id} rows {appended} (acked {acked})")
    extra = set(stored) - set(journals)
    problems += [f"{a}: stored but not simulated" for a in sorted(extra)]
    return total, problems


# --------------------------------------------------------------------------- controller
@dataclass(frozen=True)
class ControllerSpec:
    commune: str
    commune_id: int
    db_url: str
    port: int
    password: str
    ca_pem: bytes
    identity_seed: bytes
    flush_every_s: float = 5.0
    batch_records: int = 20_000
    batch_wait_s: float = 0.2
    profile: str | None = None  # write a cProfile of the ingest worker here
    bulk_copy: bool | None = None  # PostgreSQL COPY ingest: None = JournalIngest's default


def controller_main(control: Any, spec: ControllerSpec) -> None:
    """The controller's fleet side; answers the parent's questions until told to stop."""
    import cProfile

    from controller.fleet.component import ActiveAgents
    from controller.fleet.link import BrokerConnection, FleetLink
    from controller.fleet.presence import LiveState, PresenceTracker
    from controller.uptime.definition import load_definition
    from controller.uptime.rollup import RollupMaintainer
    from protocols.clock import SystemClock
    from protocols.envelope import Domain, Signer
    from protocols.messages import Heartbeat
    from protocols.topics import DocKind, document_topic

    class TimedPresence(PresenceTracker):
        """The real tracker, noting when each heartbeat reached it."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.latencies: list[tuple[int, int]] = []  # (receipt wall ns, latency ns)
            self.beats = 0

        def heartbeat(self, agent_id: str, commune_id: int, beat: Heartbeat) -> LiveState:
            state = super().heartbeat(agent_id, commune_id, beat)
            now = time.time_ns()
            self.latencies.append((now, now - beat.stamp.wall_ns))
            self.beats += 1
            return state

    db = Database(spec.db_url)
    identity = SigningIdentity(spec.identity_seed)
    clock = SystemClock(trust="always")
    presence = TimedPresence(clock)
    definition = load_definition()
    signer = Signer(identity, 1)
    link = FleetLink(spec.commune, spec.commune_id, db,
                     BrokerConnection("127.0.0.1", spec.port, CONTROLLER_USER, spec.password,
                                      spec.ca_pem),
                     presence, lambda: signer,
                     ActiveAgents(SimpleNamespace(db=db), spec.commune_id),  # type: ignore[arg-type]
                     batch_records=spec.batch_records, batch_wait_s=spec.batch_wait_s,
                     rollups=RollupMaintainer(definition.window, db.dialect))
    if spec.bulk_copy is not None:  # A/B comparisons of the ingest path
        link._ingest._copy = spec.bulk_copy
    profilers: dict[str, cProfile.Profile] = {}
    if spec.profile:
        # The ingest's two stages, one profiler per thread: FILE (commit), FILE.prepare.
        for stage in ("_prepare", "_commit"):
            profiler = profilers[stage] = cProfile.Profile()
            work = getattr(link, stage)

            def profiled(*args: Any, _work: Any = work, _profiler: Any = profiler) -> None:
                _profiler.runcall(_work, *args)
            setattr(link, stage, profiled)
    stop = threading.Event()
    flush_errors = [0]

    def flush_loop() -> None:
        while not stop.wait(spec.flush_every_s):
            try:
                presence.sweep()
                presence.flush(db)
            except Exception:
                flush_errors[0] += 1

    presence.restore(db)
    link.start()
    topic = document_topic(spec.commune, DocKind.TRUST)
    bundle = TrustBundle(version=1, issued_ns=time.time_ns(), commune=spec.commune,
                         keys=[TrustedKey(identity.key_id, identity.public_key)])
    link.publish(topic, signer.seal(Domain.DOCUMENT, topic, bundle), retain=True)
    flusher = threading.Thread(target=flush_loop, name="presence-flush", daemon=True)
    flusher.start()
    control.send(("ok", os.getpid()))
    while True:
        command = control.recv()
        name = command[0]
        if name == "stats":
            states = presence.get()
            stats = vars(link.stats).copy()
            stats.pop("extra", None)
            stats.update(online=sum(s.online for s in states.values()), known=len(states),
                         heartbeats=presence.beats, queue=link._queue.qsize(),
                         flush_errors=flush_errors[0])
            control.send(("ok", stats))
        elif name == "latencies":
            taken, presence.latencies = presence.latencies, []
            control.send(("ok", taken))
        elif name == "sessions":
            control.send(("ok", {a: (s.session, s.online) for a, s in presence.get().items()}))
        elif name == "stop":
            stop.set()
            flusher.join(10)
            link.stop()
            presence.flush(db)
            if spec.profile:
                profilers["_commit"].dump_stats(spec.profile)
                profilers["_prepare"].dump_stats(spec.profile + ".prepare")
            db.dispose()
            control.send(("ok", None))
            return


@dataclass
class Controller:
    process: Any
    control: Any
    pid: int

    def ask(self, *command: Any, timeout: float = 60.0) -> Any:
        self.control.send(command)
        if not self.control.poll(timeout):
            raise TimeoutError(f"the controller did not answer {command[0]!r}")
        status, value = self.control.recv()
        assert status == "ok", value
        return value

    def cpu_s(self) -> float:
        return proc_cpu_s(self.pid)

    def rss_kb(self) -> tuple[int, int]:
        return proc_rss_kb(self.pid)

    def stop(self) -> None:
        with contextlib.suppress(TimeoutError, EOFError, OSError, BrokenPipeError):
            self.ask("stop", timeout=60)
        self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)


def start_controller(the_rig: Any, **options: Any) -> Controller:
    """``the_rig``: a ``Rig``, or anything with its commune, commune_id, db_url, port,
    controller_password, ca_pem and identity."""
    spec = ControllerSpec(the_rig.commune, the_rig.commune_id, the_rig.db_url, the_rig.port,
                          the_rig.controller_password, the_rig.ca_pem, the_rig.identity.seed,
                          **options)
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=controller_main, args=(child, spec),
                              name="controller", daemon=True)
    process.start()
    if not parent.poll(120):
        raise TimeoutError("the controller process did not start")
    _, pid = parent.recv()
    return Controller(process, parent, pid)


def wait_until(condition: Any, timeout: float, every: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
