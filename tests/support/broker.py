"""A real Mosquitto per test module, configured by loaxa's own generator (TLS, auth, ACL)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from controller.broker.accounts import BrokerAccount, Role, mosquitto_hash, new_password
from controller.broker.files import (
    BrokerLayout,
    ListenerSettings,
    write_broker_files,
    write_credentials,
)
from controller.broker.process import MosquittoProcess
from protocols.mqtt import connect_properties, new_client

from .ports import free_port


@dataclass
class Credentials:
    username: str
    password: str
    role: Role
    commune: str


@dataclass
class RunningBroker:
    """A running broker and the clear-text credentials of its accounts."""

    layout: BrokerLayout
    process: MosquittoProcess
    credentials: dict[str, Credentials] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return self.process.port

    @property
    def ca_pem(self) -> bytes:
        return self.layout.ca_cert.read_bytes()

    def add(self, username: str, role: Role, commune: str, *,
            password: str | None = None) -> Credentials:
        """An account (with a new password unless one was granted elsewhere)."""
        creds = Credentials(username, password or new_password(), role, commune)
        self.credentials[username] = creds
        self._apply()
        return creds

    def remove(self, username: str) -> None:
        del self.credentials[username]
        self._apply()

    def _apply(self) -> None:
        write_credentials(self.layout, self._accounts())
        self.process.reload()

    def _accounts(self) -> list[BrokerAccount]:
        return [BrokerAccount(c.username, mosquitto_hash(c.password), c.role, c.commune)
                for c in self.credentials.values()]

    @contextmanager
    def client(self, username: str, password: str | None = None, **kwargs: Any
               ) -> Iterator[RecordingClient]:
        creds = self.credentials.get(username)
        pw = password if password is not None else (creds.password if creds else "x")
        client = RecordingClient(self, username, pw, **kwargs)
        try:
            yield client
        finally:
            client.close()


class RecordingClient:
    """A connected paho client that records what it receives and how its calls ended."""

    def __init__(self, broker: RunningBroker, username: str, password: str,
                 will: tuple[str, bytes, int] | None = None, connect: bool = True,
                 port: int | None = None) -> None:
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.connect_reason: Any = None
        self.disconnect_reason: Any = None
        self.subacks: dict[int, list[Any]] = {}
        self._suback_event = threading.Condition()
        self.client = new_client(f"t-{username}-{id(self)}", username, password, broker.ca_pem,
                                 will=will)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = lambda _c, _u, msg: self.messages.put(msg)
        self.client.on_subscribe = self._on_subscribe
        self.port = port if port is not None else broker.port
        if connect:
            self.client.connect("127.0.0.1", self.port, keepalive=30,
                                clean_start=True, properties=connect_properties(300))
            self.client.loop_start()

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.connect_reason = reason
        if not reason.is_failure:
            self.connected.set()
        else:
            self.disconnected.set()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.disconnect_reason = reason
        self.connected.clear()
        self.disconnected.set()

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, reasons: list[Any], _p: Any) -> None:
        with self._suback_event:
            self.subacks[mid] = reasons
            self._suback_event.notify_all()

    def subscribe(self, topic: str, qos: int = 1, timeout: float = 5.0) -> list[Any]:
        _, mid = self.client.subscribe(topic, qos=qos)
        with self._suback_event:
            self._suback_event.wait_for(lambda: mid in self.subacks, timeout)
            return self.subacks.get(mid, [])

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False,
                timeout: float = 5.0) -> mqtt.MQTTMessageInfo:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if qos > 0:
            info.wait_for_publish(timeout)
        return info

    def expect(self, timeout: float = 5.0) -> mqtt.MQTTMessage:
        return self.messages.get(timeout=timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextmanager
def running_broker(root: Path) -> Iterator[RunningBroker]:
    layout = BrokerLayout(root)
    port = free_port()
    write_broker_files(layout, ListenerSettings(port=port), [])
    process = MosquittoProcess(layout, port)
    process.start()
    broker = RunningBroker(layout, process)
    try:
        yield broker
    finally:
        process.stop()
