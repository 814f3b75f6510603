"""The fleet link as a daemon component: connects, tracks presence, ingests journals,
keeps the trust bundle published, and answers the API's live-state questions."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from sqlmodel import select

from protocols.clock import Clock
from protocols.envelope import Signer

from ..events import AgentOffline, AgentOnline, Event, SigningKeysChanged
from ..registry.livestate import Connectivity
from ..registry.livestate import LiveState as RegistryLiveState
from ..storage.tables.registry import AdminUnit, Agent, AgentStatus
from ..uptime.definition import load_definition
from ..uptime.rollup import RollupMaintainer
from .link import BrokerConnection, FleetLink
from .presence import LiveState, PresenceTracker
from .publisher import FleetPublisher

if TYPE_CHECKING:
    from ..daemon import Station

log = logging.getLogger("loaxa.fleet")


class ActiveAgents:
    """Which agents may speak for this commune: active ones, re-read every few seconds
    so an enrolment is heard at once and a revocation silences at once (the broker
    drops a revoked agent anyway)."""

    def __init__(self, station: Station, commune_id: int, ttl_s: float = 5.0) -> None:
        self._station = station
        self._commune_id = commune_id
        self._ttl = ttl_s
        self._known: frozenset[str] = frozenset()
        self._read_at = -1e9
        self._lock = threading.Lock()

    def __call__(self, agent_id: str) -> bool:
        with self._lock:
            if time.monotonic() - self._read_at > self._ttl or (
                    agent_id not in self._known and time.monotonic() - self._read_at > 0.5):
                with self._station.db.session() as session:
                    rows = session.exec(select(Agent.id).where(
                        Agent.commune_id == self._commune_id,
                        Agent.status == AgentStatus.ACTIVE)).all()
                self._known = frozenset(rows)
                self._read_at = time.monotonic()
            return agent_id in self._known


def commune_id_of(station: Station, commune: str) -> int:
    with station.db.session() as session:
        unit_id = session.exec(select(AdminUnit.id).where(AdminUnit.key == commune)).first()
    if unit_id is None:
        raise LookupError(f"commune {commune} is not in the registry")
    return unit_id


def to_registry_state(state: LiveState) -> RegistryLiveState:
    beat = state.heartbeat
    return RegistryLiveState(
        connectivity=Connectivity.ONLINE if state.online else Connectivity.OFFLINE,
        last_seen=state.last_seen_at, playing=beat.get("playing"), volume=beat.get("volume"),
        amp_on=beat.get("amp_on"), software=state.software or None,
        clock_offset_us=beat.get("clock_offset_us"))


class FleetComponent:
    name = "fleet link"

    def __init__(self, station: Station, clock: Clock | None = None,
                 flush_every_s: float = 5.0) -> None:
        from ..broker.sync import controller_credentials

        self.station = station
        settings = station.settings
        self.commune = settings.station.commune
        self.commune_id = commune_id_of(station, self.commune)
        clock = clock or station.time.clock
        self.presence = PresenceTracker(clock, on_transition=self._transition)
        credentials = controller_credentials(settings)
        ca_pem = (station.broker.ca_pem if station.broker is not None
                  else station.access.broker_ca_pem).encode()
        definition = load_definition()
        self.link = FleetLink(
            self.commune, self.commune_id, station.db,
            BrokerConnection(settings.broker.host, settings.broker.port, credentials.username,
                             credentials.password, ca_pem),
            self.presence, self._signer, ActiveAgents(station, self.commune_id),
            rollups=RollupMaintainer(definition.window, station.db.dialect))
        self.publisher = FleetPublisher(self.commune, station.keyring, station.counters,
                                        self.link, clock)
        self._flush_every = flush_every_s
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name="presence-flush",
                                         daemon=True)
        self._subscription = station.bus.subscribe(self._on_event)
        station.extras["fleet"] = self

    def _signer(self) -> Signer:
        return self.station.keyring.signer(self.commune)

    def start(self) -> None:
        self.presence.restore(self.station.db)
        self.link.start()
        self.publisher.publish_trust_bundle()  # queued until connected
        self.station.live.plug(self)
        self.station.services.commands.plug(self.publisher)
        self.station.services.device_log.plug(self.presence)
        self._flusher.start()

    def stop(self) -> None:
        self.station.services.commands.plug(None)
        self.station.services.device_log.plug(None)
        self._stop.set()
        self._subscription.close()
        self._flusher.join(10)
        self.link.stop()
        self.presence.flush(self.station.db)

    @property
    def progress(self) -> int:
        return self.link.progress

    def health(self) -> str | None:
        if not self._flusher.is_alive():
            return "the presence writer is not running"
        return self.link.health()

    def status(self) -> str:
        online = sum(1 for state in self.presence.get().values() if state.online)
        broker = "" if self.link.stats.connected else ", broker unreachable"
        return f"{online} agents online, {self.link.stats.records} records stored{broker}"

    # LiveStateProvider
    def get(self, agent_ids: Sequence[str]) -> Mapping[str, RegistryLiveState]:
        return {agent_id: to_registry_state(state)
                for agent_id, state in self.presence.get(list(agent_ids)).items()}

    def _flush_loop(self) -> None:
        while not self._stop.wait(self._flush_every):
            try:
                self.presence.sweep()
                self.presence.flush(self.station.db)
            except Exception:
                log.exception("could not persist agent presence")

    def _transition(self, before: LiveState, after: LiveState) -> None:
        event_type = AgentOnline if after.online else AgentOffline
        self.station.bus.publish(event_type(commune_id=self.commune_id, commune=self.commune,
                                            agent_id=after.agent_id, session=after.session))

    def _on_event(self, event: Event) -> None:
        if isinstance(event, SigningKeysChanged):
            self.publisher.publish_trust_bundle()
