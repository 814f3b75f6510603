"""Keeping the broker's password file and ACL a faithful rendering of the registry.

The registry is the truth: the controller's own account plus one account per *active*
agent (its Mosquitto hash is stored at enrolment; the clear password was handed to the
agent once and never kept). Every enrolment and revocation calls :meth:`sync`, which
rewrites both files atomically and reloads Mosquitto; on reload Mosquitto re-checks the
connected clients and drops those no longer allowed, so a revoked agent is cut at once.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlmodel import select

from controller.settings import Settings
from controller.storage.database import Database
from controller.storage.tables.registry import AdminUnit, Agent, AgentStatus

from .accounts import BrokerAccount, Role, mosquitto_hash
from .bridge import forward_bridge, write_bridged_config
from .files import (
    BrokerLayout,
    ListenerSettings,
    atomic_write,
    write_broker_files,
    write_credentials,
)
from .process import MosquittoProcess

log = logging.getLogger("loaxa.broker")
SERVER_NAME = "loaxa-broker"


@dataclass(frozen=True)
class ControllerCredentials:
    """What the fleet link logs in with."""

    username: str
    password: str


def controller_username(commune: str) -> str:
    name = f"ctl-{commune}"
    if len(name) <= 64:
        return name
    return "ctl-" + hashlib.sha256(commune.encode()).hexdigest()[:40]


def controller_credentials(settings: Settings) -> ControllerCredentials:
    """The controller's broker login: from ``broker.username``/``password_file`` for an
    external broker; for the embedded one, a password generated once into
    ``<data_dir>/broker/controller.secret`` (0600)."""
    if settings.broker.mode == "external":
        path = settings.broker.password_file
        password = path.read_text().strip() if path is not None else ""
        return ControllerCredentials(settings.broker.username
                                     or controller_username(settings.station.commune), password)
    path = settings.broker_dir / "controller.secret"
    if path.exists():
        password = path.read_text().strip()
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(24)
        atomic_write(path, password + "\n", 0o600)
    return ControllerCredentials(controller_username(settings.station.commune), password)


def registry_accounts(db: Database, commune: str,
                      controller: ControllerCredentials) -> list[BrokerAccount]:
    """The controller plus every active agent that has broker credentials."""
    accounts = [BrokerAccount(controller.username, mosquitto_hash(controller.password),
                              Role.CONTROLLER, commune)]
    with db.session() as session:
        rows = session.exec(select(Agent, AdminUnit).join(
            AdminUnit, AdminUnit.id == Agent.commune_id).where(  # type: ignore[arg-type]
            Agent.status == AgentStatus.ACTIVE))
        for agent, unit in rows:
            if agent.broker_password_hash:
                accounts.append(BrokerAccount(agent.id, agent.broker_password_hash,
                                              Role.AGENT, unit.key))
    return accounts


class BrokerSync(Protocol):
    """What enrolment needs: make the broker match the registry, now."""

    def sync(self) -> None: ...


class NullBrokerSync:
    """An external broker whose accounts loaxa does not manage (documented in
    ``docs/operations.md``): nothing to rewrite here."""

    def sync(self) -> None:
        log.info("external broker: its accounts are managed outside loaxa")


class RegistryBrokerSync:
    """Rewrite the password file and ACL from the registry, then reload the broker."""

    def __init__(self, db: Database, layout: BrokerLayout, commune: str,
                 controller: ControllerCredentials, process: MosquittoProcess | None) -> None:
        self.db = db
        self.layout = layout
        self.commune = commune
        self.controller = controller
        self.process = process
        self._lock = threading.Lock()

    def accounts(self) -> list[BrokerAccount]:
        return registry_accounts(self.db, self.commune, self.controller)

    def sync(self) -> None:
        with self._lock:
            write_credentials(self.layout, self.accounts())
            if self.process is not None:
                self.process.reload()


def listener_settings(settings: Settings) -> ListenerSettings:
    """The embedded broker's listener: its certificate names every host agents dial."""
    broker = settings.broker
    names, addresses = ["localhost", *broker.extra_hostnames], ["127.0.0.1",
                                                               *broker.extra_addresses]
    for host in (broker.public_host, broker.host, broker.bind):
        if not host or host == "0.0.0.0":
            continue
        try:
            ipaddress.ip_address(host)
        except ValueError:
            names.append(host)
        else:
            addresses.append(host)
    return ListenerSettings(bind=broker.bind, port=broker.port, server_name=SERVER_NAME,
                            hostnames=sorted(set(names)), addresses=sorted(set(addresses)),
                            max_queued_messages=broker.max_queued_messages)


class EmbeddedBroker:
    """The private Mosquitto of a controller with ``broker.mode = "embedded"``: its files
    are written from the registry before it starts, and kept in step afterwards; with
    ``[forward] enabled`` its configuration carries the bridge to the region."""

    name = "broker"

    def __init__(self, settings: Settings, db: Database) -> None:
        self.layout = BrokerLayout(settings.broker_dir)
        self.listener = listener_settings(settings)
        self.credentials = controller_credentials(settings)
        self.process = MosquittoProcess(self.layout, settings.broker.port,
                                        host=_dial(settings.broker.bind),
                                        server_name=SERVER_NAME)
        self.sync = RegistryBrokerSync(db, self.layout, settings.station.commune,
                                       self.credentials, self.process)
        self.bridge = forward_bridge(settings)  # a forwarding station names its region

    @property
    def ca_pem(self) -> str:
        return self.layout.ca_cert.read_text()

    def prepare(self) -> None:
        """Write config, TLS material and credentials (without starting anything)."""
        os.makedirs(self.layout.root, exist_ok=True)
        write_broker_files(self.layout, self.listener, self.sync.accounts())
        if self.bridge is not None:
            write_bridged_config(self.layout, self.listener, self.bridge)

    def start(self) -> None:
        self.prepare()
        self.process.start()

    def stop(self) -> None:
        self.process.stop()

    def health(self) -> str | None:
        """A dead embedded broker is started again (agents reconnect by themselves)."""
        if self.process.running:
            return None
        log.error("the embedded Mosquitto exited; restarting it: %s", self.process.log_tail(5))
        try:
            self.process.start()
        except Exception as exc:
            return f"mosquitto is down and would not restart: {exc}"
        return None


def _dial(bind: str) -> str:
    return "127.0.0.1" if bind in ("0.0.0.0", "", "::") else bind


def external_ca_pem(settings: Settings) -> str:
    path: Path | None = settings.broker.ca_file
    return path.read_text() if path is not None and path.exists() else ""
