"""The station daemon (``loaxa controller run``): opens the database, makes sure the keys
exist, then starts its components in order and stops them in reverse.

A component is anything with ``name``, ``start()`` and ``stop()``. The built-in ones are
the embedded broker, the ZAP handler, the enrolment service, the API listeners and the
backup schedule; the fleet link, the data-plane content/stream/clock services and timed
work plug in by appending a factory to :data:`EXTRA_COMPONENTS` (or passing ``extra=`` to
:class:`Daemon`). A factory receives the :class:`Station` — everything already opened —
and returns its component; the fleet link also ``plug()``s its live-state provider into
``station.live``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Protocol

import zmq

from controller.api.app import create_app
from controller.api.server import ApiServer, parse_bind
from controller.api.services import ApiServices
from controller.audit import AuditLog
from controller.backup import Backups, BackupScheduler, remember_epochs
from controller.broker.sync import (
    BrokerSync,
    EmbeddedBroker,
    NullBrokerSync,
    controller_credentials,
    external_ca_pem,
)
from controller.dataplane.content_component import ContentComponent
from controller.dataplane.enrol_service import EnrolService
from controller.dataplane.time_component import TimeComponent
from controller.dataplane.zap import AGENT_DOMAIN, RegistryKeys, ZapAuthenticator
from controller.enrolment.access import ClaimAccess, access_from_settings
from controller.enrolment.claim import ClaimHandler
from controller.enrolment.codes import CodeService
from controller.enrolment.revoke import Revoker
from controller.events import EventBus
from controller.health import problems
from controller.library.component import LibraryComponent, library_service
from controller.registry.agents import AgentService
from controller.registry.bootstrap import ensure_commune
from controller.registry.errors import ServiceError
from controller.registry.livestate import LiveStateProvider, LiveStateSlot
from controller.registry.stations import StationService
from controller.registry.summary import SummaryService
from controller.registry.timebase import StationTime
from controller.registry.units import UnitService
from controller.security.sessions import AuthService
from controller.security.users import UserService
from controller.settings import Settings
from controller.signing.counters import Counters
from controller.signing.curve import CurveKeyPair, ensure_curve_key
from controller.signing.epoch_mark import EpochMark
from controller.signing.keyring import Keyring
from controller.storage.database import Database
from protocols.sdnotify import Notifier

log = logging.getLogger("loaxa.daemon")


class Component(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class Station:
    """What every component may use; built once by :meth:`Daemon.open`."""

    settings: Settings
    db: Database
    bus: EventBus
    time: StationTime
    keyring: Keyring
    counters: Counters
    curve: CurveKeyPair
    live: LiveStateSlot
    broker_sync: BrokerSync
    access: ClaimAccess
    services: ApiServices
    zmq_context: zmq.Context[zmq.Socket[bytes]]
    zap: ZapAuthenticator
    broker: EmbeddedBroker | None = None
    claims: ClaimHandler | None = None
    extras: dict[str, object] = field(default_factory=dict)


ComponentFactory = Callable[[Station], Component]
EXTRA_COMPONENTS: list[ComponentFactory] = []


def fleet_component(station: Station) -> Component:
    from controller.fleet.component import FleetComponent

    return FleetComponent(station)


def alerts_component(station: Station) -> Component:
    from controller.alerts.component import AlertComponent

    return AlertComponent(station)


def forward_component(station: Station) -> Component:
    from controller.collector.component import ForwardComponent

    return ForwardComponent(station)


def planner_component(station: Station) -> Component:
    from controller.scheduling.component import PlannerComponent

    return PlannerComponent(station)


# The components every station runs besides the built-in ones, in start order.
STATION_COMPONENTS: list[ComponentFactory] = [fleet_component, planner_component,
                                              LibraryComponent, ContentComponent,
                                              TimeComponent]
STATION_COMPONENTS += [alerts_component, forward_component]  # uptime & reports area


def compose(settings: Settings, db: Database, *, bus: EventBus, time: StationTime,
            broker_sync: BrokerSync, access: ClaimAccess,
            live: LiveStateProvider | None = None) -> ApiServices:
    """Wire the station services together (also what tests use to build an API)."""
    agents = AgentService(db, bus, time, live)
    keyring = Keyring(db, bus, time)
    return ApiServices(
        db=db, bus=bus, time=time, units=UnitService(db, bus, time),
        stations=StationService(db, bus, time), agents=agents,
        summary=SummaryService(agents), users=UserService(db, bus, time),
        auth=AuthService(db, bus, time, dt.timedelta(hours=settings.api.token_ttl_hours)),
        audit=AuditLog(db, time), keyring=keyring,
        codes=CodeService(db, bus, time, access,
                          dt.timedelta(hours=settings.enrolment.code_ttl_hours)),
        revoker=Revoker(db, bus, time, broker_sync),
        backups=Backups(db, settings.backup_dir, settings.backup.keep, bus, time,
                        settings.station.commune),
        library=library_service(settings, db, bus, time))


class Daemon:
    def __init__(self, settings: Settings, *, time: StationTime | None = None,
                 extra: Sequence[ComponentFactory] = ()) -> None:
        self.settings = settings
        self.time = time or StationTime(timezone=settings.station.timezone)
        self.extra = [*STATION_COMPONENTS, *EXTRA_COMPONENTS, *extra]
        self.station: Station | None = None
        self.components: list[Component] = []
        self._started: list[Component] = []
        self._stop = threading.Event()

    def open(self) -> Station:
        """Database up to date, commune and keys present, broker files written."""
        settings = self.settings
        settings.station.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        commune = settings.station.commune
        db = Database(settings.database_url)
        db.upgrade()
        bus = EventBus()
        ensure_commune(db, bus, self.time, commune, settings.station.name)
        keyring = Keyring(db, bus, self.time)
        keyring.ensure(commune)
        try:  # before anything is signed; a damaged record must not keep the station off air
            remember_epochs(db, bus, self.time, EpochMark(settings.signing_epochs_file), commune)
        except (ServiceError, OSError) as exc:
            log.error("signing epoch record: %s", exc)
        curve = ensure_curve_key(db, commune)
        broker: EmbeddedBroker | None = None
        sync: BrokerSync
        if settings.broker.mode == "embedded":
            broker = EmbeddedBroker(settings, db)
            broker.prepare()
            sync, ca_pem = broker.sync, broker.ca_pem
        else:
            controller_credentials(settings)
            sync, ca_pem = NullBrokerSync(), external_ca_pem(settings)
        access = access_from_settings(settings, curve.public_key, ca_pem)
        live = LiveStateSlot()
        services = compose(settings, db, bus=bus, time=self.time, broker_sync=sync,
                           access=access, live=live)
        context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        zap = ZapAuthenticator(context, {AGENT_DOMAIN: RegistryKeys(db).agent_for})
        self.station = Station(
            settings=settings, db=db, bus=bus, time=self.time, keyring=keyring,
            counters=Counters(db), curve=curve, live=live, broker_sync=sync, access=access,
            services=services, zmq_context=context, zap=zap, broker=broker,
            claims=ClaimHandler(db, bus, self.time, keyring, sync, access,
                                settings.enrolment.max_failed_attempts))
        return self.station

    def build_components(self, station: Station) -> list[Component]:
        settings = station.settings
        components: list[Component] = []
        if station.broker is not None:
            components.append(station.broker)
        components.append(station.zap)
        assert station.claims is not None
        endpoint = f"tcp://{settings.dataplane.bind_host}:{settings.dataplane.enrol_port}"
        components.append(EnrolService(station.zmq_context, endpoint, station.curve,
                                       station.claims, station.zap))
        components.extend(factory(station) for factory in self.extra)
        app = create_app(station.services)
        components.append(ApiServer(app, uds=settings.api_socket))
        if settings.api.tcp_bind:
            host, port = parse_bind(settings.api.tcp_bind)
            components.append(ApiServer(app, host=host, port=port,
                                        tls_cert=settings.api.tls_cert,
                                        tls_key=settings.api.tls_key))
        components.append(BackupScheduler(station.services.backups,
                                          settings.backup.interval_hours))
        return components

    def start(self) -> Station:
        station = self.open()
        self.components = self.build_components(station)
        try:
            for component in self.components:
                log.info("starting %s", component.name)
                component.start()
                self._started.append(component)
        except BaseException:
            self.stop()
            raise
        if station.broker is not None:
            station.broker_sync.sync()  # the registry may have changed while it was down
        return station

    def stop(self) -> None:
        for component in reversed(self._started):
            try:
                component.stop()
            except Exception:
                log.exception("stopping %s failed", component.name)
        self._started.clear()
        if self.station is not None:
            self.station.zmq_context.destroy(linger=0)
            self.station.db.dispose()
            self.station = None

    def request_stop(self, *_args: object) -> None:
        self._stop.set()

    def run(self, notifier: Notifier | None = None) -> None:
        """Start, serve until SIGTERM/SIGINT, stop; speak sd_notify under systemd."""
        os.umask(0o077)  # database, backups and secrets are 0600
        notifier = notifier or Notifier()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        station = self.start()
        log.info("controller for %s running", self.settings.station.commune)
        notifier.ready(f"serving {self.settings.station.commune}")
        # Ping well inside WatchdogSec, and only after every component said it is healthy.
        interval = min((notifier.watchdog_s or 30.0) / 3, 10.0)
        try:
            while not self._stop.wait(interval):
                found = problems(station.db, self.components)
                if found:
                    log.error("not petting the watchdog: %s", "; ".join(found))
                    notifier.status("unhealthy: " + "; ".join(found))
                    continue
                notifier.watchdog()
                notifier.status(self.status_line())
        finally:
            notifier.stopping("stopping")
            self.stop()
            notifier.close()
            log.info("controller stopped")

    def status_line(self) -> str:
        parts = [c.status() for c in self.components if hasattr(c, "status")]
        return "; ".join(parts) or "running"

    def _on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self._stop.set()
