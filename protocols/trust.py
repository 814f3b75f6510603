"""The set of controller keys an agent accepts, rotated by trust-bundle documents."""

from __future__ import annotations

import msgspec
from nacl.signing import VerifyKey

from .codec import Reason
from .keys import key_id_of
from .messages import DocVersion, TrustBundle, TrustedKey


class TrustState(msgspec.Struct, array_like=True, frozen=True):
    """What an agent persists: trusted keys, every key ever revoked, the bundle version."""

    commune: str
    keys: list[TrustedKey]
    revoked: list[str]
    bundle: DocVersion | None = None


class TrustStore:
    """Immutable view of trusted keys; applying a bundle returns a new store.

    Revocation is sticky: a key revoked once stays revoked on this agent even if a later
    bundle (perhaps signed by that very key) omits it.
    """

    def __init__(self, state: TrustState) -> None:
        for key in state.keys:
            if key_id_of(key.public_key) != key.key_id:
                raise ValueError(f"key id {key.key_id} does not match its public key")
        self.state = state
        self._keys = {k.key_id: VerifyKey(k.public_key) for k in state.keys}
        self._revoked = frozenset(state.revoked)

    @classmethod
    def from_bundle(cls, bundle: TrustBundle, version: DocVersion | None = None) -> TrustStore:
        """The initial store, from the bundle handed over at enrolment."""
        return cls(TrustState(bundle.commune, list(bundle.keys), sorted(set(bundle.revoked)),
                              version))

    @property
    def commune(self) -> str:
        return self.state.commune

    def lookup(self, key_id: str) -> VerifyKey | Reason:
        if key_id in self._revoked:
            return Reason.REVOKED_KEY
        key = self._keys.get(key_id)
        return key if key is not None else Reason.UNKNOWN_KEY

    def with_bundle(self, bundle: TrustBundle, version: DocVersion) -> TrustStore:
        revoked = sorted(self._revoked | set(bundle.revoked))
        keys = [k for k in bundle.keys if k.key_id not in revoked]
        return TrustStore(TrustState(self.state.commune, keys, revoked, version))

    def to_bytes(self) -> bytes:
        return msgspec.msgpack.encode(self.state)

    @classmethod
    def from_bytes(cls, data: bytes) -> TrustStore:
        return cls(msgspec.msgpack.decode(data, type=TrustState))
