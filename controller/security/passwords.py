"""Password hashing with the standard library's scrypt (memory-hard, no dependency).

Stored form: ``scrypt$<log2 n>$<r>$<p>$<salt b64>$<hash b64>``, so the cost can be raised
later and old hashes still verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

LOG2_N = 14  # n = 16384, r = 8: 16 MiB and some tens of milliseconds per check
R = 8
P = 1
MIN_LENGTH = 8
MAX_LENGTH = 256


def hash_password(password: str, *, log2_n: int | None = None) -> str:
    log2_n = LOG2_N if log2_n is None else log2_n
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, log2_n, R, P)
    return "$".join(["scrypt", str(log2_n), str(R), str(P),
                     base64.b64encode(salt).decode(), base64.b64encode(digest).decode()])


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time check; a missing or unreadable hash never matches."""
    if not stored or len(password) > MAX_LENGTH:
        return False
    try:
        scheme, log2_n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        ours = _scrypt(password, base64.b64decode(salt), int(log2_n), int(r), int(p))
        return hmac.compare_digest(ours, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False


def _scrypt(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    n = 1 << log2_n
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32,
                          maxmem=128 * r * n * 2)
