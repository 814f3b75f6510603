"""The content service as a station component: library items to enrolled agents.

``ContentService`` does the transfers; this wires it into the station:

* it listens on ``dataplane.bind_host:content_port``, the port agents are told at
  enrolment (``controller.enrolment.access``), with the station's CURVE key;
* handshakes are answered by the station's shared ZAP handler under ``AGENT_DOMAIN``
  (active agents' keys, read from the database at each handshake, so enrolment and
  revocation need no restart); that handler attaches the agent *id* as ``User-Id``, which
  ``peer_key`` maps back to the agent's key for the service's per-request re-check;
* items are located in the library's content store (``<data_dir>/content``);
* the egress cap and the number of concurrent transfers come from ``[dataplane]``;
* transfers are ordered, and judged late, by the air times of the station's own plans
  (the planner's ``air_times``, ``controller.scheduling.deadlines``), and once it runs,
  the conflict check asks its queue, with the fleet's presence, when an item can reach an
  agent (``controller.scheduling.delivery``);
* alerts (late, not found, corrupt) become typed events on the bus, naming the agent;
* transfers' progress goes to the library's distribution board, which decides what
  becomes a ``content_transfer`` event (every state change, progress about once a second);
* the running service is plugged into the library (``ContentSlot``), for the API's
  transfers view.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import TYPE_CHECKING

import zmq
from sqlmodel import select

from controller.events import (
    ContentAlert,
    ContentCorrupt,
    ContentLate,
    ContentMissing,
    ContentTransfer,
)
from controller.library.distribution import Standing
from controller.library.store import ContentStore
from controller.scheduling.delivery import (
    fleet_presence,
    plan_deadlines,
    plug_delivery_estimate,
)
from controller.storage.database import Database
from controller.storage.tables.registry import AdminUnit

from .content_service import AlertKind, ContentService, Locator, ServiceLimits, TransferNote
from .zap import AGENT_DOMAIN, RegistryKeys

if TYPE_CHECKING:
    from pathlib import Path

    from controller.daemon import Station

log = logging.getLogger("loaxa.dataplane.content")

ALERTS: dict[str, type[ContentAlert]] = {AlertKind.LATE.value: ContentLate,
                                         AlertKind.NOT_FOUND.value: ContentMissing,
                                         AlertKind.CORRUPT.value: ContentCorrupt}


class ContentStartError(RuntimeError):
    """The content port cannot be bound (in use, or an address the host does not have)."""


class CachedKeyOf:
    """``agent id -> CURVE key`` for active agents, remembered for ``ttl_s``.

    The service maps the ZAP ``User-Id`` back to a key on *every* message (credits flow
    several times a second during a transfer); a query each time would be waste. A
    revocation still bites within the service's own re-check (``is_allowed``, cached
    for one second), and a key is never served from the cache past ``ttl_s``.
    """

    def __init__(self, keys: RegistryKeys, ttl_s: float = 1.0) -> None:
        self._keys = keys
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[bytes | None, float]] = {}

    def __call__(self, agent_id: str) -> bytes | None:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(agent_id)
        if cached is not None and now - cached[1] < self._ttl_s:
            return cached[0]
        key = self._keys.key_of(agent_id)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[agent_id] = (key, now)
        return key


def store_locator(store: ContentStore) -> Locator:
    """``locate(raw sha256)`` over the content store."""

    def locate(sha256: bytes) -> Path | None:
        path = store.path_of(sha256.hex())
        return path if path.is_file() else None

    return locate


class ContentComponent:
    name = "content service"

    def __init__(self, station: Station) -> None:
        settings = station.settings
        plane = settings.dataplane
        self.station = station
        self.commune = settings.station.commune
        self.commune_id = _commune_id(station.db, self.commune)
        self.endpoint = f"tcp://{plane.bind_host}:{plane.content_port}"
        self._agents = RegistryKeys(station.db)
        self._names: dict[bytes, str] = {}  # agent key -> id, for progress (ids never change)
        self.board = station.services.library.content.board
        self.service = ContentService(
            station.curve.secret_key, RegistryKeys(station.db, ttl_s=1).is_allowed,
            store_locator(ContentStore(settings.content_dir)), endpoint=self.endpoint,
            limits=ServiceLimits(egress_bytes_per_s=plane.egress_kbps * 1000 / 8,
                                 max_concurrent=plane.max_transfers),
            on_alert=self._alert, clock=station.time.clock, context=station.zmq_context,
            zap_domain=AGENT_DOMAIN, external_zap=True, deadline=plan_deadlines(station),
            peer_key=CachedKeyOf(self._agents), on_transfer=self._progress)
        station.extras["content"] = self

    def start(self) -> None:
        try:
            self.service.start()
        except zmq.ZMQError as exc:
            raise ContentStartError(f"the content service cannot listen on {self.endpoint}: "
                                    f"{exc}") from None
        self.station.services.library.content.plug(self.service, self.commune,
                                                   presence=fleet_presence(self.station))
        if not plug_delivery_estimate(self.station, self.service):
            log.warning("no fleet link: conflict checks count library items as ready now")

    def stop(self) -> None:
        self.station.services.scheduling.programmes.unplug_readiness()
        self.station.services.library.content.unplug()
        self.service.stop()

    def status(self) -> str:
        stats = self.service.stats()
        return f"{stats['active']} transfers active, {stats['queued']} queued"

    def _alert(self, kind: str, agent_key: bytes, content: bytes, detail: str) -> None:
        """From the service thread: name the agent, publish the typed event."""
        event_type = ALERTS.get(kind, ContentAlert)
        try:
            agent_id = self._agents.agent_for(agent_key)
        except Exception:  # the database: the alert still goes out, without a name
            log.exception("could not name the agent of a content alert")
            agent_id = None
        self.station.bus.publish(event_type(commune_id=self.commune_id, commune=self.commune,
                                            agent_id=agent_id, sha256=content.hex(),
                                            detail=detail))

    def _progress(self, notes: list[TransferNote]) -> None:
        """From the service thread: record each note, publish what the board says is due."""
        clock = self.station.time.clock
        at = dt.datetime.fromtimestamp(clock.wall_ns() / 1e9, dt.UTC)
        for note in notes:
            agent_id = self._name(note.agent)
            if agent_id is not None:
                self.board.record(Standing(agent_id, note.content.hex(), note.state.value,
                                           note.size, note.acknowledged, note.reason, at))
        for standing in self.board.due(clock.monotonic_ns()):
            self.station.bus.publish(ContentTransfer(
                commune_id=self.commune_id, commune=self.commune, agent_id=standing.agent_id,
                sha256=standing.sha256, state=standing.state, percent=standing.percent,
                sent_bytes=standing.sent_bytes, size_bytes=standing.size_bytes,
                reason=standing.reason))

    def _name(self, key: bytes) -> str | None:
        name = self._names.get(key)
        if name is None:
            try:
                name = self._agents.agent_for(key)
            except Exception:  # the database: this note goes unnamed (the next one retries)
                log.exception("could not name the agent of a content transfer")
                return None
            if name is not None:
                if len(self._names) > 100_000:
                    self._names.clear()
                self._names[key] = name
        return name


def _commune_id(db: Database, commune: str) -> int | None:
    with db.session() as session:
        return session.exec(select(AdminUnit.id).where(AdminUnit.key == commune)).first()
