"""What a claimed agent is told about where to connect, and the command an installer
pastes on the device to claim its code."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

import zmq.utils.z85

from controller.broker.sync import SERVER_NAME
from controller.settings import Settings


@dataclass(frozen=True)
class ClaimAccess:
    enrol_endpoint: str  # the enrolment service, e.g. tcp://station.example:7712
    data_endpoint: str  # the content service handed to agents
    server_public_key: bytes  # the controller's CURVE public key (raw 32 bytes)
    broker_host: str
    broker_port: int
    broker_ca_pem: str
    broker_server_name: str = SERVER_NAME
    clock_endpoint: str = ""  # the time service (clock exchange); "" where there is none

    @property
    def server_key_z85(self) -> str:
        return zmq.utils.z85.encode(self.server_public_key).decode()

    def enroll_command(self, code: str) -> str:
        """Ready to paste on the agent: ``loaxa agent enroll --endpoint=... CODE``.

        ``--option=value`` form, shell-quoted: a Z85 key may start with ``-`` (which an
        option parser would take for an option) and contains shell metacharacters."""
        return " ".join(["loaxa", "agent", "enroll",
                         shlex.quote(f"--endpoint={self.enrol_endpoint}"),
                         shlex.quote(f"--server-key={self.server_key_z85}"),
                         f"--code={code}"])


def public_host(settings: Settings) -> str:
    """The address agents dial for the data plane (and enrolment)."""
    return (settings.dataplane.public_host or settings.broker.public_host
            or settings.broker.host)


def access_from_settings(settings: Settings, server_public_key: bytes,
                         broker_ca_pem: str) -> ClaimAccess:
    host = public_host(settings)
    return ClaimAccess(
        enrol_endpoint=f"tcp://{host}:{settings.dataplane.enrol_port}",
        data_endpoint=f"tcp://{host}:{settings.dataplane.content_port}",
        clock_endpoint=f"tcp://{host}:{settings.dataplane.clock_port}",
        server_public_key=server_public_key,
        broker_host=settings.broker.public_host or settings.broker.host,
        broker_port=settings.broker.public_port or settings.broker.port,
        broker_ca_pem=broker_ca_pem)
