"""Ed25519 signing identities and their short key ids."""

from __future__ import annotations

import base64
import hashlib

from nacl.signing import SigningKey, VerifyKey


def key_id_of(public_key: bytes) -> str:
    """A short, stable name for a public key: ``k`` + 12 base32 chars of its SHA-256."""
    digest = hashlib.sha256(public_key).digest()
    return "k" + base64.b32encode(digest).decode("ascii").lower()[:12]


class SigningIdentity:
    """A controller signing key with its id. The seed is the only secret to store."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise ValueError("an Ed25519 seed is 32 bytes")
        self._key = SigningKey(seed)
        self.public_key: bytes = bytes(self._key.verify_key)
        self.key_id: str = key_id_of(self.public_key)

    @classmethod
    def generate(cls) -> SigningIdentity:
        return cls(bytes(SigningKey.generate()))

    @property
    def seed(self) -> bytes:
        return bytes(self._key)

    def sign(self, message: bytes) -> bytes:
        return bytes(self._key.sign(message).signature)

    def verify_key(self) -> VerifyKey:
        return self._key.verify_key
