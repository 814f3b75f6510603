"""Claiming this box with a one-time code: ``loaxa agent enroll``.

The agent's CURVE key pair is generated here, on the device (``agent/identity.py``); only
its public half leaves. The claim travels over a CURVE-encrypted ZeroMQ connection to
the controller's enrolment endpoint, whose handshake proves we hold the private key and
that we talk to the controller whose public key the technician typed in.

Framing: a DEALER sends ``[b"", ClaimRequest]`` (the empty delimiter makes it look like a
REQ, so the controller may answer from a ROUTER or a REP socket) and reads the reply from
the last frame: ``ClaimGranted`` or ``ClaimRefused`` (``protocols/enrolment.py``). The
socket has ``linger=0`` and send/receive timeouts, so a dead endpoint is a clear message
after ``timeout_s``, never a hang.

On success the data directory receives, each written atomically: the broker CA
(``ca.pem``), the broker password (``broker.password``, 0600), the trust store and its
document mark (``state.db``), and the agent's configuration (``agent.toml``).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.utils.z85

from protocols.acceptance import document_mark_name
from protocols.codec import Decoder, Rejected, encode
from protocols.enrolment import ClaimGranted, ClaimRefused, ClaimRequest, normalize_code
from protocols.topics import DocKind
from protocols.trust import TrustStore

from .config import ConfigError, check_z85_key
from .identity import CurveIdentity, load_or_create_identity
from .state import TRUST_SETTING, AgentState
from .version import SOFTWARE

log = logging.getLogger("loaxa.agent.enroll")

REPLY_MAX_BYTES = 64 * 1024
KEY_FILE = "agent.key"
CONFIG_FILE = "agent.toml"


class EnrolmentError(Exception):
    """Why enrolment did not happen; ``kind`` picks the technician-facing message."""

    def __init__(self, kind: str, detail: str = "") -> None:
        self.kind = kind
        self.detail = detail
        super().__init__(f"{kind}: {detail}" if detail else kind)


@dataclass(frozen=True)
class Enrolled:
    agent_id: str
    commune: str
    village: str | None
    config_path: Path
    public_key_z85: str


def claim(endpoint: str, server_key: bytes, code: str, identity: CurveIdentity, *,
          timeout_s: float = 15.0) -> ClaimGranted:
    """One claim round trip; raises ``EnrolmentError`` for every way it can fail."""
    canonical = normalize_code(code)
    if canonical is None:
        raise EnrolmentError("invalid_code")
    request = ClaimRequest(code=canonical, curve_public_key=identity.public_key,
                           serial=_serial()[:256], hostname=socket.gethostname()[:256],
                           software=SOFTWARE)
    timeout_ms = max(int(timeout_s * 1000), 1)
    context = zmq.Context()
    sock = context.socket(zmq.DEALER)
    try:
        sock.linger = 0
        sock.sndtimeo = timeout_ms
        sock.rcvtimeo = timeout_ms
        sock.setsockopt(zmq.IMMEDIATE, 1)  # no queueing before a completed handshake
        sock.curve_serverkey = zmq.utils.z85.encode(server_key)
        sock.curve_publickey = identity.public_z85
        sock.curve_secretkey = identity.secret_z85
        try:
            sock.connect(endpoint)
        except zmq.ZMQError as exc:
            raise EnrolmentError("bad_endpoint", str(exc)) from exc
        deadline = time.monotonic() + timeout_s
        try:
            sock.send_multipart([b"", encode(request)])
        except zmq.Again as exc:
            raise EnrolmentError("unreachable", endpoint) from exc
        remaining_ms = max(int((deadline - time.monotonic()) * 1000), 1)
        if not sock.poll(remaining_ms, zmq.POLLIN):
            raise EnrolmentError("unreachable", endpoint)
        frames = sock.recv_multipart()
    finally:
        sock.close(linger=0)
        context.term()
    reply = Decoder[ClaimGranted | ClaimRefused]("claim-reply", ClaimGranted | ClaimRefused,
                                                 REPLY_MAX_BYTES).decode(frames[-1])
    if isinstance(reply, Rejected):
        raise EnrolmentError("bad_reply", str(reply))
    if isinstance(reply, ClaimRefused):
        raise EnrolmentError("refused", reply.reason.value)
    if reply.trust.commune != reply.commune:
        raise EnrolmentError("bad_reply", "trust bundle for another commune")
    return reply


def enroll(*, endpoint: str, server_key_z85: str, code: str, data_dir: Path,
           config_path: Path | None = None, timeout_s: float = 15.0,
           force: bool = False) -> Enrolled:
    """Claim with ``code`` and install what the controller grants into ``data_dir``."""
    if normalize_code(code) is None:
        raise EnrolmentError("invalid_code")
    try:
        server_key = check_z85_key("--server-key", server_key_z85)
    except ConfigError as exc:
        raise EnrolmentError("invalid_server_key", str(exc)) from exc
    if not endpoint.startswith("tcp://"):
        raise EnrolmentError("bad_endpoint", endpoint)
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
        identity = load_or_create_identity(data_dir / KEY_FILE)
    except (OSError, ValueError) as exc:
        raise EnrolmentError("cannot_write", f"{data_dir}: {exc}") from exc
    granted = claim(endpoint, server_key, code, identity, timeout_s=timeout_s)
    path = install_grant(data_dir, granted, config_path=config_path, force=force)
    log.info("enrolled as %s in %s", granted.agent_id, granted.commune)
    return Enrolled(granted.agent_id, granted.commune, granted.village, path,
                    identity.public_z85.decode())


def install_grant(data_dir: Path, granted: ClaimGranted, *, config_path: Path | None = None,
                  force: bool = False) -> Path:
    """Write CA, password, trust store and configuration; returns the config path.

    Re-enrolling as the same agent of the same commune keeps the durable state (marks,
    applied documents, journal). Becoming another agent or commune would mix two
    identities, so it needs ``force``, which sets the old state and journal aside.
    """
    config_path = config_path or data_dir / CONFIG_FILE
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
        _check_identity_change(data_dir, config_path, granted, force)
        atomic_write(data_dir / "ca.pem", granted.broker.ca_pem.encode(), 0o644)
        atomic_write(data_dir / "broker.password", granted.broker.password.encode() + b"\n",
                     0o600)
        state = AgentState(data_dir / "state.db")
        try:
            trust = TrustStore.from_bundle(granted.trust, granted.trust_mark)
            state.set_setting(TRUST_SETTING, trust.to_bytes())
            state.put(document_mark_name(DocKind.TRUST.value), granted.trust_mark)
        finally:
            state.close()
        config_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(config_path, render_config(data_dir, granted).encode(), 0o640)
    except OSError as exc:
        raise EnrolmentError("cannot_write", f"{data_dir}: {exc}") from exc
    except ValueError as exc:  # a trust bundle whose key ids do not match its keys
        raise EnrolmentError("bad_reply", str(exc)) from exc
    return config_path


def _check_identity_change(data_dir: Path, config_path: Path, granted: ClaimGranted,
                           force: bool) -> None:
    if not config_path.exists():
        return
    text = config_path.read_text(errors="replace")
    same = f"id = {_toml(granted.agent_id)}" in text and \
        f"commune = {_toml(granted.commune)}" in text
    if same:
        return
    if not force:
        raise EnrolmentError("already_enrolled", str(config_path))
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for name in ("state.db", "journal.db"):
        for suffix in ("", "-wal", "-shm"):
            old = data_dir / f"{name}{suffix}"
            if old.exists():
                old.rename(data_dir / f"{name}{suffix}.replaced-{stamp}")


def render_config(data_dir: Path, granted: ClaimGranted) -> str:
    lines = ["# Written by `loaxa agent enroll`; enrolling again rewrites it.",
             "# Every setting and its default: agent/config.py.", "",
             "[agent]", f"id = {_toml(granted.agent_id)}",
             f"commune = {_toml(granted.commune)}",
             f"data_dir = {_toml(str(data_dir.resolve()))}"]
    if granted.village:
        lines.append(f"village = {_toml(granted.village)}")
    if granted.cluster:
        lines.append(f"cluster = {_toml(granted.cluster)}")
    broker = granted.broker
    lines += ["", "[broker]", f"host = {_toml(broker.host)}", f"port = {broker.port}",
              f"username = {_toml(broker.username)}", 'password_file = "broker.password"',
              'ca_file = "ca.pem"', "", "[data_plane]",
              f"endpoint = {_toml(granted.data_plane.endpoint)}",
              f"server_key = "
              f"{_toml(zmq.utils.z85.encode(granted.data_plane.server_public_key).decode())}"]
    if granted.data_plane.clock_endpoint:
        # Used only with [clock] source = "exchange"; chrony is the default time source.
        lines.append(f"clock_endpoint = {_toml(granted.data_plane.clock_endpoint)}")
    lines.append("")
    return "\n".join(lines)


def _toml(value: str) -> str:
    """A TOML basic string (JSON's escapes are valid TOML)."""
    return json.dumps(value, ensure_ascii=False)


def atomic_write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _serial() -> str:
    """The Raspberry Pi serial number (or the machine id elsewhere), for the operator."""
    for path, prefix in ((Path("/proc/cpuinfo"), "Serial"), (Path("/etc/machine-id"), "")):
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        if not prefix:
            return text.strip()
        for line in text.splitlines():
            if line.startswith(prefix):
                return line.partition(":")[2].strip()
    return ""
