"""A real enrolment rig: the ZeroMQ enrolment service with its ZAP handler, a real
Mosquitto whose accounts the registry writes, and a ZAP-guarded agent-domain socket
standing in for the data-plane services (content, clock) other packages build."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import zmq
import zmq.utils.z85

from controller.broker.files import BrokerLayout, ListenerSettings, write_broker_files
from controller.broker.process import MosquittoProcess
from controller.broker.sync import ControllerCredentials, RegistryBrokerSync
from controller.dataplane.enrol_service import EnrolService, TokenBucket
from controller.dataplane.zap import AGENT_DOMAIN, RegistryKeys, ZapAuthenticator
from controller.enrolment.access import ClaimAccess
from controller.enrolment.claim import ClaimHandler
from controller.signing.curve import CurveKeyPair
from protocols.codec import Decoder, encode
from protocols.enrolment import BrokerAccess, ClaimGranted, ClaimRefused, ClaimRequest
from protocols.mqtt import connect_properties, new_client
from tests.support.ports import free_port

from .kit import Kit, make_kit

Reply = ClaimGranted | ClaimRefused


@dataclass
class Rig:
    kit: Kit
    endpoint: str
    server: CurveKeyPair
    service: EnrolService
    broker: MosquittoProcess
    context: zmq.Context[zmq.Socket[bytes]]
    data_endpoint: str

    def keypair(self) -> CurveKeyPair:
        public, secret = zmq.curve_keypair()
        return CurveKeyPair(zmq.utils.z85.decode(public), zmq.utils.z85.decode(secret))

    def send(self, client: CurveKeyPair, frames: list[bytes], timeout: float = 5.0
             ) -> list[bytes] | None:
        """One exchange over a fresh CURVE DEALER; None if nothing comes back."""
        socket = self.context.socket(zmq.DEALER)
        socket.linger = 0
        socket.sndtimeo = socket.rcvtimeo = int(timeout * 1000)
        socket.curve_serverkey = zmq.utils.z85.encode(self.server.public_key)
        socket.curve_publickey = zmq.utils.z85.encode(client.public_key)
        socket.curve_secretkey = client.secret_z85
        try:
            socket.connect(self.endpoint)
            socket.send_multipart(frames)
            if not socket.poll(int(timeout * 1000)):
                return None
            return socket.recv_multipart()
        finally:
            socket.close(linger=0)

    def claim(self, client: CurveKeyPair, code: str, named_key: bytes | None = None) -> Reply:
        request = ClaimRequest(code=code, curve_public_key=named_key or client.public_key,
                               serial="SN-9", hostname="pi-test", software="test")
        frames = self.send(client, [b"", encode(request)])
        assert frames is not None, "no reply from the enrolment service"
        reply = Decoder[Reply]("reply", Reply, 65536).decode(frames[-1])
        assert isinstance(reply, (ClaimGranted, ClaimRefused)), reply
        return reply

    def data_plane_accepts(self, client: CurveKeyPair, timeout: float = 2.0) -> bool:
        """Whether an agent-domain socket (content/clock services) accepts this key."""
        router = self.context.socket(zmq.ROUTER)
        router.linger = 0
        router.curve_server = True
        router.curve_secretkey = self.server.secret_z85
        router.zap_domain = AGENT_DOMAIN.encode()
        port = router.bind_to_random_port("tcp://127.0.0.1")
        dealer = self.context.socket(zmq.DEALER)
        dealer.linger = 0
        dealer.curve_serverkey = zmq.utils.z85.encode(self.server.public_key)
        dealer.curve_publickey = zmq.utils.z85.encode(client.public_key)
        dealer.curve_secretkey = client.secret_z85
        try:
            dealer.connect(f"tcp://127.0.0.1:{port}")
            dealer.send(b"hello", flags=0)
            if not router.poll(int(timeout * 1000)):
                return False
            frames = router.recv_multipart(copy=False)
            assert frames[-1].bytes == b"hello"
            return True
        finally:
            dealer.close(linger=0)
            router.close(linger=0)


@contextmanager
def enrolment_rig(db_url: str, tmp_path: Path, *, limiter: TokenBucket | None = None
                  ) -> Iterator[Rig]:
    layout = BrokerLayout(tmp_path / "broker")
    port = free_port()
    controller = ControllerCredentials("ctl-xa-a", "controller-password-1234")
    process = MosquittoProcess(layout, port)
    public, secret = zmq.curve_keypair()
    server = CurveKeyPair(zmq.utils.z85.decode(public), zmq.utils.z85.decode(secret))
    write_broker_files(layout, ListenerSettings(port=port), [])
    access = ClaimAccess(enrol_endpoint="tcp://127.0.0.1:0", data_endpoint="tcp://127.0.0.1:1",
                         server_public_key=server.public_key, broker_host="127.0.0.1",
                         broker_port=port, broker_ca_pem=layout.ca_cert.read_text())
    kit = make_kit(db_url, tmp_path, access=access)
    sync = RegistryBrokerSync(kit.db, layout, "xa-a", controller, process)
    kit.services.revoker.broker = sync
    sync.sync()
    process.start()
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    zap = ZapAuthenticator(context, {AGENT_DOMAIN: RegistryKeys(kit.db).agent_for})
    zap.start()
    handler = ClaimHandler(kit.db, kit.bus, kit.time, kit.services.keyring, sync, access,
                           max_failed_attempts=3)
    service = EnrolService(context, "tcp://127.0.0.1:*", server, handler, zap,
                           limiter or TokenBucket(capacity=100, per_second=10))
    service.start()
    try:
        yield Rig(kit, service.bound_endpoint, server, service, process, context,
                  access.data_endpoint)
    finally:
        service.stop()
        zap.stop()
        context.destroy(linger=0)
        process.stop()
        kit.close()


class MqttProbe:
    """A paho client logged in with an agent's broker credentials."""

    def __init__(self, access: BrokerAccess) -> None:
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.reasons: queue.Queue[object] = queue.Queue()
        self.client = new_client(f"probe-{access.username}-{time.monotonic_ns()}",
                                 access.username, access.password, access.ca_pem)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.connect(access.host, access.port, keepalive=30, clean_start=True,
                            properties=connect_properties(60))
        self.client.loop_start()

    def _on_connect(self, _c: object, _u: object, _f: object, reason: mqtt.ReasonCode,
                    _p: object) -> None:
        self.reasons.put(reason)
        if reason.is_failure:
            self.disconnected.set()
        else:
            self.connected.set()

    def _on_disconnect(self, _c: object, _u: object, _f: object, reason: object,
                       _p: object) -> None:
        self.connected.clear()
        self.disconnected.set()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
