"""Regional collection in the processes that run it: the forwarder as a component of a
commune's station daemon, and ``loaxa collector run``, the regional collector."""

from __future__ import annotations

import logging
import signal
import threading
from typing import TYPE_CHECKING

from ..settings import Settings
from ..storage.database import Database
from ..uptime.definition import load_definition
from .forwarder import ForwardOptions
from .link import BrokerLogin, CollectorLink, ForwardLink
from .store import CollectorStore

if TYPE_CHECKING:
    from ..daemon import Station

log = logging.getLogger("loaxa.collector")


def forward_options(settings: Settings) -> ForwardOptions:
    forward = settings.forward
    return ForwardOptions(batch_records=forward.batch_records,
                          batch_bytes=forward.batch_kb * 1024,
                          ack_timeout_s=forward.ack_timeout_s,
                          ack_timeout_max_s=forward.ack_timeout_max_s,
                          slot_grace_s=forward.slot_grace_min * 60.0)


class ForwardComponent:
    """Forwards this commune to the region when ``[forward] enabled``; idle otherwise."""

    name = "regional forwarder"

    def __init__(self, station: Station) -> None:
        from ..broker.sync import controller_credentials
        from ..fleet.component import commune_id_of

        settings = station.settings
        self.link: ForwardLink | None = None
        if not settings.forward.enabled:
            return
        commune = settings.station.commune
        credentials = controller_credentials(settings)
        ca_pem = (station.broker.ca_pem if station.broker is not None
                  else station.access.broker_ca_pem)
        login = BrokerLogin(settings.broker.host, settings.broker.port, credentials.username,
                            credentials.password, ca_pem.encode(), f"loaxa-forward-{commune}")
        self.link = ForwardLink(station.db, commune, commune_id_of(station, commune), login,
                                station.time.clock, forward_options(settings),
                                settings.forward.interval_s)
        station.extras["forward"] = self.link

    def start(self) -> None:
        if self.link is not None:
            self.link.start()

    def stop(self) -> None:
        if self.link is not None:
            self.link.stop()


class CollectorError(Exception):
    """The collector cannot run as configured; the message says what to fix."""


def collector_login(settings: Settings) -> BrokerLogin:
    collector = settings.collector
    if collector.password_file is None or collector.ca_file is None:
        raise CollectorError("[collector] needs password_file and ca_file")
    try:
        password = collector.password_file.read_text().strip()
        ca_pem = collector.ca_file.read_bytes()
    except OSError as exc:
        raise CollectorError(f"cannot read the collector's credentials: {exc}") from None
    return BrokerLogin(collector.broker_host, collector.broker_port, collector.username,
                       password, ca_pem, collector.client_id)


class CollectorProcess:
    """``loaxa collector run``: the database up to date, then collect until stopped."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings.database_url)
        self.link: CollectorLink | None = None
        self._stop = threading.Event()

    def start(self) -> CollectorLink:
        if self.db.dialect != "postgresql":
            log.warning("the regional collector is meant for PostgreSQL; using %s",
                        self.db.dialect)
        self.db.upgrade()
        definition = load_definition(self.settings.collector.definition)
        store = CollectorStore(self.db, definition, self.settings.collector.communes)
        self.link = CollectorLink(store, collector_login(self.settings))
        self.link.start()
        return self.link

    def stop(self) -> None:
        self._stop.set()
        if self.link is not None:
            self.link.stop()
        self.db.dispose()

    def run(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self._stop.set())
        self.start()
        log.info("collector running")
        try:
            self._stop.wait()
        finally:
            self.stop()
