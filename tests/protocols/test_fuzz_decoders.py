"""Hostile input: random bytes and mutated valid messages never make a decoder raise."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.acceptance import MemoryWatermarks
from protocols.clock import ManualClock
from protocols.codec import Decoder, Rejected
from protocols.enrolment import ClaimReply, ClaimRequest
from protocols.inbox import AGENT_MESSAGE_TYPES, ControlInbox, FleetInbox
from protocols.topics import AgentChannel, DocKind, agent_topic
from protocols.trust import TrustStore

from . import samples
from .golden_cases import cases, encoded

SEEDS = [encoded(value) for value, _ in cases().values()]
FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

CONTROL_TOPICS = [samples.sealed_document(kind)[0] for kind in DocKind] + [
    agent_topic(samples.COMMUNE, samples.AGENT, AgentChannel.COMMAND),
    agent_topic(samples.COMMUNE, samples.AGENT, AgentChannel.ACK),
    "loaxa/v1/xa-tan-lap/agent/ag-0002/cmd", "loaxa/v2/x/agent/a/cmd", "#", "",
]
FLEET_TOPICS = [agent_topic(samples.COMMUNE, samples.AGENT, ch) for ch in AGENT_MESSAGE_TYPES]


def control_inbox() -> ControlInbox:
    return ControlInbox(samples.COMMUNE, samples.AGENT, TrustStore.from_bundle(samples.TRUST),
                        MemoryWatermarks(), ManualClock(wall_ns=samples.T0 + 1))


def plain_decoders() -> list[Decoder[Any]]:
    return [Decoder[Any]("claim_request", ClaimRequest, 4096),
            Decoder[Any]("claim_reply", ClaimReply, 65536)]


def _mutate_leaf(value: Any, data: st.DataObject) -> Any:
    """Replace one leaf of a decoded msgpack tree with a hostile value."""
    if isinstance(value, list) and value:
        index = data.draw(st.integers(0, len(value) - 1))
        copy = list(value)
        copy[index] = _mutate_leaf(copy[index], data)
        return copy
    if isinstance(value, dict) and value:
        key = data.draw(st.sampled_from(sorted(value, key=repr)))
        copy = dict(value)
        copy[key] = _mutate_leaf(copy[key], data)
        return copy
    return data.draw(st.one_of(
        st.integers(min_value=-(2**63), max_value=2**64 - 1), st.text(max_size=300),
        st.binary(max_size=80), st.none(), st.booleans(), st.floats(),
        st.lists(st.integers(-(2**63), 2**64 - 1), max_size=5), st.just([]), st.just({})))


hostile_bytes = st.one_of(
    st.binary(max_size=2048),
    st.sampled_from(SEEDS).flatmap(lambda seed: st.tuples(
        st.just(seed), st.integers(0, max(0, len(seed) - 1)), st.integers(0, 255),
        st.integers(0, len(seed))).map(
            lambda t: (t[0][:t[1]] + bytes([t[2]]) + t[0][t[1] + 1:])[:t[3] or None])),
)


@FUZZ
@given(payload=hostile_bytes, topic=st.sampled_from(CONTROL_TOPICS))
def test_control_inbox_never_raises_on_bytes(payload: bytes, topic: str) -> None:
    result = control_inbox().receive(topic, payload)
    # A random flip may survive only where the bytes are not covered (it cannot forge a
    # signature), so anything accepted must carry a valid signature: still a value.
    assert result is not None


@FUZZ
@given(payload=hostile_bytes, topic=st.sampled_from(FLEET_TOPICS))
def test_fleet_inbox_never_raises_on_bytes(payload: bytes, topic: str) -> None:
    assert FleetInbox().receive(topic, payload) is not None


@FUZZ
@given(payload=hostile_bytes)
def test_enrolment_decoders_never_raise(payload: bytes) -> None:
    for decoder in plain_decoders():
        assert decoder.decode(payload) is not None


@FUZZ
@given(seed=st.sampled_from(SEEDS), data=st.data())
def test_structurally_mutated_messages_are_rejected_or_valid(seed: bytes, data: Any) -> None:
    tree = msgspec.msgpack.decode(seed)
    mutated = msgspec.msgpack.encode(_mutate_leaf(tree, data))
    inbox = FleetInbox()
    for topic in FLEET_TOPICS:
        inbox.receive(topic, mutated)
    control = control_inbox()
    for topic in CONTROL_TOPICS:
        control.receive(topic, mutated)
    for decoder in plain_decoders():
        decoder.decode(mutated)


@FUZZ
@given(data=st.data())
def test_mutated_signed_body_never_verifies(data: Any) -> None:
    """Any change inside a signed envelope's covered bytes is refused."""
    topic, payload = samples.sealed_command(samples.COMMANDS["volume"])
    envelope = msgspec.msgpack.decode(payload)
    signed = bytearray(envelope[3])
    index = data.draw(st.integers(0, len(signed) - 1))
    signed[index] ^= data.draw(st.integers(1, 255))
    envelope[3] = bytes(signed)
    result = control_inbox().receive(topic, msgspec.msgpack.encode(envelope))
    assert isinstance(result, Rejected)


def test_oversize_payloads_are_refused_before_decoding() -> None:
    inbox = FleetInbox()
    result = inbox.receive(FLEET_TOPICS[2], b"\x91" + b"\x00" * 10_000)
    assert isinstance(result, Rejected) and result.reason.value == "oversize"
    assert inbox.counter.snapshot() == {"hb/oversize": 1}
