"""The signed envelope for everything the controller tells an agent.

Wire form: ``[1, key_id, signature, signed]`` where ``signed`` is the exact byte string
that was signed, itself the msgpack array ``[epoch, topic, body]``. The signature covers
``domain || 0x00 || signed``: the domain tag (document, command or journal ack), the
full topic and the payload bytes. The verifier checks the signature over the bytes as
received and only then decodes them, so nothing is re-serialised before verifying.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, Protocol

import msgspec
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from .codec import Decoder, Reason, Rejected, RejectionCounter, encode
from .keys import SigningIdentity
from .messages import KeyId
from .timefields import U64

ENVELOPE_VERSION = 1
MAX_ENVELOPE_BYTES = 2 * 1024 * 1024


class Domain(Enum):
    """Separates signatures by purpose: a signed ack can never pass as a command."""

    DOCUMENT = b"loaxa/v1/document"
    COMMAND = b"loaxa/v1/command"
    JOURNAL_ACK = b"loaxa/v1/journal-ack"


class Envelope(msgspec.Struct, array_like=True, frozen=True, tag=ENVELOPE_VERSION):
    key_id: KeyId
    signature: Annotated[bytes, msgspec.Meta(min_length=64, max_length=64)]
    signed: bytes


class SignedPart(msgspec.Struct, array_like=True, frozen=True):
    epoch: U64
    topic: Annotated[str, msgspec.Meta(max_length=256)]
    body: msgspec.Raw


@dataclass(frozen=True, slots=True)
class Opened:
    """A verified envelope: who signed it, in which epoch, and the body's exact bytes."""

    key_id: str
    epoch: int
    topic: str
    body: bytes


def signing_base(domain: Domain, signed: bytes) -> bytes:
    return domain.value + b"\x00" + signed


class Signer:
    """Seals bodies for topics with the controller's current key and signing epoch."""

    def __init__(self, identity: SigningIdentity, epoch: int) -> None:
        if epoch < 0:
            raise ValueError("the signing epoch is a non-negative counter")
        self.identity = identity
        self.epoch = epoch

    def seal(self, domain: Domain, topic: str, body: Any) -> bytes:
        body_bytes = body if isinstance(body, bytes) else encode(body)
        signed = encode(SignedPart(self.epoch, topic, msgspec.Raw(body_bytes)))
        signature = self.identity.sign(signing_base(domain, signed))
        return encode(Envelope(self.identity.key_id, signature, signed))


class KeyLookup(Protocol):
    """What the verifier needs from a trust store."""

    def lookup(self, key_id: str) -> VerifyKey | Reason: ...


_signed_decoder: msgspec.msgpack.Decoder[SignedPart] = msgspec.msgpack.Decoder(SignedPart)


def open_envelope(keys: KeyLookup, domain: Domain, topic: str, payload: bytes, kind: str,
                  counter: RejectionCounter) -> Opened | Rejected:
    """Verify ``payload`` received on ``topic``; never raises."""
    envelope = Decoder[Envelope](kind, Envelope, MAX_ENVELOPE_BYTES, counter).decode(payload)
    if isinstance(envelope, Rejected):
        return envelope
    found = keys.lookup(envelope.key_id)
    if isinstance(found, Reason):
        return counter.count(Rejected(kind, found, envelope.key_id))
    try:
        found.verify(signing_base(domain, envelope.signed), envelope.signature)
    except (BadSignatureError, ValueError, TypeError):
        return counter.count(Rejected(kind, Reason.BAD_SIGNATURE, envelope.key_id))
    try:
        part = _signed_decoder.decode(envelope.signed)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        # Signed by a trusted key yet unreadable: a controller bug, not an attack.
        return counter.count(Rejected(kind, Reason.MALFORMED, str(exc)[:200]))
    if part.topic != topic:
        return counter.count(Rejected(kind, Reason.READDRESSED,
                                      f"signed for {part.topic!r}, received on {topic!r}"))
    return Opened(envelope.key_id, part.epoch, part.topic, bytes(part.body))
