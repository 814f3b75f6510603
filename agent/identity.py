"""The agent's own key pair, generated on the device; the secret half never leaves it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.utils.z85


@dataclass(frozen=True)
class CurveIdentity:
    public_key: bytes  # 32 raw bytes
    secret_key: bytes  # 32 raw bytes

    @property
    def public_z85(self) -> bytes:
        return zmq.utils.z85.encode(self.public_key)

    @property
    def secret_z85(self) -> bytes:
        return zmq.utils.z85.encode(self.secret_key)


def load_or_create_identity(path: Path) -> CurveIdentity:
    """Read the key file, or create it (0600, written atomically) on first start."""
    if path.exists():
        raw = path.read_bytes().split()
        if len(raw) != 2:
            raise ValueError(f"{path}: not a loaxa agent key file")
        return CurveIdentity(zmq.utils.z85.decode(raw[0]), zmq.utils.z85.decode(raw[1]))
    public, secret = zmq.curve_keypair()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, public + b"\n" + secret + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return CurveIdentity(zmq.utils.z85.decode(public), zmq.utils.z85.decode(secret))
