"""The controller's CURVE key pair (ZeroMQ data plane and enrolment).

Kept in the database next to the signing seed, not in a file: agents pin the public key
at enrolment, so a controller restored from a backup onto a new disk must come back with
the same pair, and a backup is then the one secret to guard (0600), not two.
"""

from __future__ import annotations

from dataclasses import dataclass

import zmq
import zmq.utils.z85

from controller.storage.database import Database
from controller.storage.tables.signing import CurveKey
from controller.storage.types import utcnow

from .counters import commune_id_of


@dataclass(frozen=True)
class CurveKeyPair:
    public_key: bytes  # 32 raw bytes
    secret_key: bytes

    @property
    def public_z85(self) -> str:
        return zmq.utils.z85.encode(self.public_key).decode()

    @property
    def secret_z85(self) -> bytes:
        return zmq.utils.z85.encode(self.secret_key)


def ensure_curve_key(db: Database, commune: str) -> CurveKeyPair:
    """The commune controller's pair, created on first use."""
    with db.transaction() as session:
        commune_id = commune_id_of(session, commune)
        row = session.get(CurveKey, commune_id)
        if row is None:
            public, secret = zmq.curve_keypair()
            row = CurveKey(commune_id=commune_id, public_key=zmq.utils.z85.decode(public),
                           secret_key=zmq.utils.z85.decode(secret), created_at=utcnow())
            session.add(row)
        return CurveKeyPair(bytes(row.public_key), bytes(row.secret_key))
