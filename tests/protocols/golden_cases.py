"""The table of golden cases: name -> (message or sealed bytes, type to decode with)."""

from __future__ import annotations

from typing import Any

from protocols.codec import encode
from protocols.enrolment import ClaimReply, ClaimRequest
from protocols.envelope import Envelope
from protocols.messages import Command, JournalAck
from protocols.topics import DocKind

from . import samples
from .samples import AGENT_MESSAGES, COMMANDS, DOCUMENTS, ENROLMENT


def cases() -> dict[str, tuple[Any, Any]]:
    table: dict[str, tuple[Any, Any]] = {}
    for name, message in AGENT_MESSAGES.items():
        table[f"agent-{name}"] = (message, type(message))
    for kind, document in DOCUMENTS.items():
        table[f"doc-{kind.value}"] = (document, type(document))
    for name, command in COMMANDS.items():
        table[f"cmd-{name}"] = (command, Command)
    table["ack"] = (samples.ACK, JournalAck)
    table["claim-request"] = (ENROLMENT["claim_request"], ClaimRequest)
    table["claim-granted"] = (ENROLMENT["claim_granted"], ClaimReply)
    table["claim-refused"] = (ENROLMENT["claim_refused"], ClaimReply)
    # Whole signed envelopes: Ed25519 is deterministic, so these bytes are too.
    table["envelope-doc-trust"] = (samples.sealed_document(DocKind.TRUST)[1], Envelope)
    table["envelope-cmd-volume"] = (samples.sealed_command(COMMANDS["volume"])[1], Envelope)
    table["envelope-ack"] = (samples.sealed_ack()[1], Envelope)
    return table


def encoded(value: Any) -> bytes:
    return value if isinstance(value, bytes) else encode(value)


if __name__ == "__main__":  # python -m tests.protocols.golden_cases  (re-bless on purpose)
    from pathlib import Path

    folder = Path(__file__).with_name("golden")
    for name, (value, _) in cases().items():
        (folder / f"{name}.hex").write_text(encoded(value).hex() + "\n")
        print("wrote", name)
