"""Enrolment: claiming an agent with a one-time code.

The agent generates its CURVE key pair on the device and sends only the public half;
the claim travels over a CURVE-encrypted ZeroMQ connection whose handshake proves the
agent holds the matching private key. The controller answers with everything the agent
needs to run: its identity and place, broker credentials, the data-plane endpoint and
the controller's trust bundle. Codes are single use and stored only as a digest.
"""

from __future__ import annotations

import hashlib
import secrets
from enum import StrEnum
from typing import Annotated

import msgspec

from .messages import DocVersion, Ident, Text, TrustBundle

# Crockford base32: no I, L, O, U, so a code read over the phone survives.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12  # 60 bits; codes also expire and are rate-limited at the controller
_CONFUSABLE = str.maketrans({"I": "1", "L": "1", "O": "0"})

Key32 = Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, CODE_LENGTH, 4))


def normalize_code(text: str) -> str | None:
    """The canonical form of a typed code, or None if it cannot be one."""
    if not isinstance(text, str):
        return None
    cleaned = text.upper().replace("-", "").replace(" ", "").translate(_CONFUSABLE)
    if len(cleaned) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in cleaned):
        return None
    return cleaned


def code_digest(code: str) -> str:
    """What the controller stores instead of the code (hex SHA-256 of its canonical form)."""
    canonical = normalize_code(code)
    if canonical is None:
        raise ValueError("not an enrolment code")
    return hashlib.sha256(b"loaxa-enrolment-code\x00" + canonical.encode()).hexdigest()


class BrokerAccess(msgspec.Struct, array_like=True, frozen=True):
    host: Text
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)]
    username: Ident
    password: Text
    ca_pem: Annotated[str, msgspec.Meta(max_length=16384)]
    server_name: Text


class DataPlaneAccess(msgspec.Struct, array_like=True, frozen=True):
    endpoint: Text  # e.g. tcp://station.example:7710
    server_public_key: Key32  # the controller's CURVE public key
    # Appended in v1.1: the controller's time service (clock exchange), e.g.
    # tcp://station.example:7711, same CURVE key; "" from controllers without one.
    clock_endpoint: Text = ""


class ClaimRequest(msgspec.Struct, array_like=True, frozen=True, tag=1):
    code: Annotated[str, msgspec.Meta(max_length=32)]
    curve_public_key: Key32
    serial: Text = ""
    hostname: Text = ""
    software: Text = ""


class RefusalReason(StrEnum):
    UNKNOWN_CODE = "unknown_code"
    EXPIRED = "expired"
    ALREADY_USED = "already_used"
    KEY_MISMATCH = "key_mismatch"  # the request names a key other than the handshake's
    RATE_LIMITED = "rate_limited"
    MALFORMED = "malformed"


class ClaimGranted(msgspec.Struct, array_like=True, frozen=True, tag=1):
    agent_id: Ident
    commune: Ident
    village: Ident | None
    cluster: Ident | None
    broker: BrokerAccess
    data_plane: DataPlaneAccess
    trust: TrustBundle
    trust_mark: DocVersion


class ClaimRefused(msgspec.Struct, array_like=True, frozen=True, tag=2):
    reason: RefusalReason


ClaimReply = ClaimGranted | ClaimRefused
