"""Enrolment, agent side, against a minimal in-test controller speaking the claim protocol
over a CURVE ROUTER (the real enrolment service lives in the controller, later)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
import zmq.auth
import zmq.utils.z85
from zmq.auth.thread import ThreadAuthenticator

from agent.config import load
from agent.enroll import EnrolmentError, enroll
from agent.state import TRUST_SETTING, AgentState
from controller.broker.accounts import Role
from protocols.acceptance import document_mark_name
from protocols.codec import Decoder, Rejected, encode
from protocols.enrolment import (
    BrokerAccess,
    ClaimGranted,
    ClaimRefused,
    ClaimRequest,
    DataPlaneAccess,
    RefusalReason,
    new_code,
    normalize_code,
)
from protocols.envelope import Signer
from protocols.keys import SigningIdentity
from protocols.messages import DocVersion
from protocols.trust import TrustStore
from tests.support.agent_process import ROOT, AgentProcess, trust_bundle
from tests.support.broker import RunningBroker
from tests.support.fleet_double import FleetDouble

IDENTITY = SigningIdentity.generate()
CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def grant(agent_id: str = "ag-en1", commune: str = "xa-enrol", *, port: int = 8883,
          password: str = "s3cret", ca: str = CA) -> ClaimGranted:
    return ClaimGranted(
        agent_id=agent_id, commune=commune, village="thon-1", cluster="cum-1a",
        broker=BrokerAccess(host="127.0.0.1", port=port, username=agent_id, password=password,
                            ca_pem=ca, server_name="loaxa-broker"),
        data_plane=DataPlaneAccess(endpoint="tcp://127.0.0.1:7710",
                                   server_public_key=bytes(range(32)),
                                   clock_endpoint="tcp://127.0.0.1:7711"),
        trust=trust_bundle(commune, IDENTITY), trust_mark=DocVersion(1, 1))


class ClaimServer:
    """ROUTER + CURVE; ZAP tells it the client's key, which the request must name."""

    def __init__(self) -> None:
        self.context = zmq.Context()
        self.auth = ThreadAuthenticator(self.context)
        self.auth.start()
        self.auth.configure_curve(domain="*", location=zmq.auth.CURVE_ALLOW_ANY)
        public, secret = zmq.curve_keypair()
        self.public_z85 = public.decode()
        self.sock = self.context.socket(zmq.ROUTER)
        self.sock.linger = 0
        self.sock.curve_server = True
        self.sock.curve_secretkey = secret
        self.sock.curve_publickey = public
        self.port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.codes: dict[str, ClaimGranted | RefusalReason] = {}
        self.requests: list[tuple[str, ClaimRequest]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        decoder = Decoder[ClaimRequest]("claim", ClaimRequest, 4096)
        while not self._stop.is_set():
            if not self.sock.poll(100):
                continue
            frames = self.sock.recv_multipart(copy=False)
            peer, payload = frames[0].bytes, frames[-1]
            handshake_key = payload.get("User-Id")
            request = decoder.decode(payload.bytes)
            if isinstance(request, Rejected):
                reply: ClaimGranted | ClaimRefused = ClaimRefused(RefusalReason.MALFORMED)
            else:
                self.requests.append((handshake_key, request))
                known = self.codes.pop(normalize_code(request.code) or "", None)
                if zmq.utils.z85.encode(request.curve_public_key).decode() != handshake_key:
                    reply = ClaimRefused(RefusalReason.KEY_MISMATCH)
                elif known is None:
                    reply = ClaimRefused(RefusalReason.UNKNOWN_CODE)
                elif isinstance(known, RefusalReason):
                    reply = ClaimRefused(known)
                else:
                    reply = known
            self.sock.send_multipart([peer, b"", encode(reply)])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close(0)
        self.auth.stop()
        self.context.term()


@pytest.fixture
def server() -> Iterator[ClaimServer]:
    running = ClaimServer()
    yield running
    running.close()


def test_a_granted_claim_installs_everything_the_agent_needs(tmp_path: Path,
                                                             server: ClaimServer) -> None:
    code = new_code()
    server.codes[normalize_code(code) or ""] = grant()
    data = tmp_path / "data"
    result = enroll(endpoint=server.endpoint, server_key_z85=server.public_z85,
                    code=code.lower(), data_dir=data, timeout_s=10)
    assert (result.agent_id, result.commune, result.village) == ("ag-en1", "xa-enrol", "thon-1")
    (handshake_key, request), = server.requests
    assert handshake_key == result.public_key_z85  # the key proven in the handshake
    assert request.code == normalize_code(code) and request.software.startswith("loaxa ")
    assert stat.S_IMODE((data / "agent.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((data / "broker.password").stat().st_mode) == 0o600
    settings = load(result.config_path, environ={})
    assert settings.agent.id == "ag-en1" and settings.agent.village == "thon-1"
    assert settings.broker_password() == "s3cret" and settings.ca_pem() == CA.encode()
    assert settings.data_plane.endpoint == "tcp://127.0.0.1:7710"
    assert settings.data_plane.clock_endpoint == "tcp://127.0.0.1:7711"
    assert settings.clock.source == "system"  # chrony unless the technician says otherwise
    state = AgentState(data / "state.db")
    try:
        trust = TrustStore.from_bytes(state.setting(TRUST_SETTING) or b"")
        assert trust.commune == "xa-enrol" and trust.state.bundle == DocVersion(1, 1)
        assert state.get(document_mark_name("trust")) == DocVersion(1, 1)
    finally:
        state.close()


def test_refusals_and_unreachable_controllers_are_clear_errors(tmp_path: Path,
                                                               server: ClaimServer) -> None:
    code = new_code()
    server.codes[normalize_code(code) or ""] = RefusalReason.EXPIRED
    with pytest.raises(EnrolmentError) as refused:
        enroll(endpoint=server.endpoint, server_key_z85=server.public_z85, code=code,
               data_dir=tmp_path / "a", timeout_s=10)
    assert (refused.value.kind, refused.value.detail) == ("refused", "expired")
    wrong_key = zmq.curve_keypair()[0].decode()  # the handshake cannot complete
    with pytest.raises(EnrolmentError) as silent:
        enroll(endpoint=server.endpoint, server_key_z85=wrong_key, code=new_code(),
               data_dir=tmp_path / "b", timeout_s=1)
    assert silent.value.kind == "unreachable"
    with pytest.raises(EnrolmentError) as invalid:
        enroll(endpoint=server.endpoint, server_key_z85=server.public_z85, code="ILOU",
               data_dir=tmp_path / "c")
    assert invalid.value.kind == "invalid_code"
    assert len(server.requests) == 1  # neither the wrong-key nor the bad code got through
    with pytest.raises(EnrolmentError) as key:
        enroll(endpoint=server.endpoint, server_key_z85="~" * 40, code=new_code(),
               data_dir=tmp_path / "d")
    assert key.value.kind == "invalid_server_key"


def test_enrolling_as_another_agent_needs_force(tmp_path: Path, server: ClaimServer) -> None:
    data = tmp_path / "data"
    for agent_id, force in (("ag-old", False), ("ag-new", False), ("ag-new", True)):
        code = new_code()
        server.codes[normalize_code(code) or ""] = grant(agent_id)
        if agent_id == "ag-new" and not force:
            with pytest.raises(EnrolmentError) as again:
                enroll(endpoint=server.endpoint, server_key_z85=server.public_z85, code=code,
                       data_dir=data, timeout_s=10)
            assert again.value.kind == "already_enrolled"
            continue
        enroll(endpoint=server.endpoint, server_key_z85=server.public_z85, code=code,
               data_dir=data, timeout_s=10, force=force)
    assert load(data / "agent.toml", environ={}).agent.id == "ag-new"
    assert list(data.glob("state.db.replaced-*"))  # the old identity's state set aside


def cli(*args: str, lang: str = "vi") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOAXA_", "LANG", "LC_"))}
    env["LOAXA_LANG"] = lang
    return subprocess.run([sys.executable, "-m", "agent", "enroll", *args], cwd=ROOT,
                          text=True, capture_output=True, timeout=60, env=env)


def test_the_cli_speaks_vietnamese_to_the_technician(tmp_path: Path,
                                                     server: ClaimServer) -> None:
    code = new_code()
    server.codes[normalize_code(code) or ""] = RefusalReason.ALREADY_USED
    common = ["--endpoint", server.endpoint, f"--server-key={server.public_z85}",
              "--data-dir", str(tmp_path / "data"), "--timeout", "5"]
    refused = cli(*common, "--code", code)
    assert refused.returncode == 77
    assert refused.stderr.strip() == "Máy điều khiển từ chối mã: mã đã được sử dụng."
    bad = cli(*common, "--code", "12345")
    assert bad.returncode == 2 and bad.stderr.startswith("Mã không hợp lệ")
    english = cli(*common, "--code", "12345", lang="en")
    assert english.stderr.startswith("Invalid code")
    silent = cli("--endpoint", f"tcp://127.0.0.1:{server.port}",
                 f"--server-key={zmq.curve_keypair()[0].decode()}", "--code", new_code(),
                 "--data-dir",
                 str(tmp_path / "x"), "--timeout", "1", "--json")
    assert silent.returncode == 69 and '"error": "unreachable"' in silent.stdout
    assert "Traceback" not in refused.stderr + bad.stderr + silent.stderr


@pytest.mark.e2e
def test_an_enrolled_box_runs_against_the_real_broker(tmp_path: Path, server: ClaimServer,
                                                      broker: RunningBroker) -> None:
    """The whole flow: code -> claim -> files -> `agent run` -> online at the controller."""
    creds = broker.add("ag-en9", Role.AGENT, "xa-enrol")
    code = new_code()
    server.codes[normalize_code(code) or ""] = grant(
        "ag-en9", port=broker.port, password=creds.password, ca=broker.ca_pem.decode())
    result = cli("--endpoint", server.endpoint, f"--server-key={server.public_z85}", "--code",
                 code, "--data-dir", str(tmp_path / "box"), "--json")
    assert result.returncode == 0, result.stderr
    assert '"agent_id": "ag-en9"' in result.stdout
    from tests.support.agent_process import ProvisionedAgent

    agent = ProvisionedAgent("ag-en9", "xa-enrol", tmp_path / "box", tmp_path / "box" /
                             "agent.toml")
    with FleetDouble(broker, "xa-enrol", Signer(IDENTITY, 1)) as double:
        process = AgentProcess(agent).start()
        try:
            assert double.wait_for(lambda: len(double.births) >= 1, 20), process.log_text()
            assert double.births[0][2].applied == {"trust": DocVersion(1, 1)}
        finally:
            assert process.terminate() == 0
