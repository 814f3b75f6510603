"""The collection messages: golden bytes (the wire never changes by accident), their
topics, and hostile input that never makes a decoder raise.

Same rules as ``tests/protocols``: fields are only appended with defaults; keep an old
golden file as ``<name>.v<N>.hex`` and re-bless deliberately with
``python -m tests.collector.golden_cases``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.codec import Reason, Rejected, encode
from protocols.collect import (
    MAX_BATCH_BYTES,
    CollectAck,
    CollectBatch,
    CollectChannel,
    ack_decoder,
    batch_decoder,
    collect_topic,
    day_number,
    day_ordinal,
    parse_collect_topic,
)

from .golden_cases import CASES, cases

GOLDEN = Path(__file__).with_name("golden")
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def golden(name: str) -> bytes:
    return bytes.fromhex((GOLDEN / f"{name}.hex").read_text().strip())


@pytest.mark.parametrize("name", sorted(CASES))
def test_encoding_matches_golden_bytes(name: str) -> None:
    assert encode(CASES[name]) == golden(name)


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_bytes_decode_to_the_sample(name: str) -> None:
    value, type_ = cases()[name]
    assert msgspec.msgpack.decode(golden(name), type=type_) == value
    decoder = batch_decoder() if type_ is CollectBatch else ack_decoder()
    assert decoder.decode(golden(name)) == value


def test_every_golden_file_has_a_case() -> None:
    assert {p.stem for p in GOLDEN.glob("*.hex")} == set(CASES)


def test_layout_by_hand() -> None:
    """[version, commune, batch, sent_ns, journals, slots, registry, attestations, digest]
    and [version, commune, batch, status, records, reason]."""
    batch = msgspec.msgpack.decode(golden("batch-empty"))
    assert batch == [1, "xa-a", 8, 1_795_000_000_000_000_000, [], [], None, [], b""]
    assert msgspec.msgpack.decode(golden("ack-refused")) == [1, "xa-a", 7, 1, 0,
                                                              "not collected here"]


def test_topics() -> None:
    assert collect_topic("xa-a", CollectChannel.BATCH) == "loaxa/v1/xa-a/collect/batch"
    assert parse_collect_topic("loaxa/v1/xa-a/collect/ack") == ("xa-a", CollectChannel.ACK)
    for bad in ("loaxa/v1/xa-a/collect/other", "loaxa/v1/+/collect/batch", "loaxa/v2/x/collect/ack",
                "loaxa/v1/xa-a/agent/a/journal", "", None, 7):
        assert parse_collect_topic(bad) is None
    assert day_ordinal(day_number(739_000)) == 739_000 and day_number(719_163) == 0


def test_refusals_are_values_with_reasons() -> None:
    decoder = batch_decoder()
    oversize = decoder.decode(b"\x00" * (MAX_BATCH_BYTES + 1))
    assert isinstance(oversize, Rejected) and oversize.reason is Reason.OVERSIZE
    future = decoder.decode(msgspec.msgpack.encode([2, "xa-a", 1, 0]))
    assert isinstance(future, Rejected) and future.reason is Reason.UNKNOWN_VERSION
    wrong = decoder.decode(msgspec.msgpack.encode([1, "XA A", 1, 0]))
    assert isinstance(wrong, Rejected) and wrong.reason is Reason.INVALID
    bad_level = msgspec.msgpack.decode(golden("batch"))
    bad_level[6][0][0][1] = "hamlet"  # a unit level that does not exist
    refused = decoder.decode(msgspec.msgpack.encode(bad_level))
    assert isinstance(refused, Rejected) and refused.reason is Reason.INVALID
    assert isinstance(decoder.decode(golden("batch")), CollectBatch)  # positive control
    assert isinstance(ack_decoder().decode(golden("ack-stored")), CollectAck)


def _mutate(value: Any, data: st.DataObject) -> Any:
    if isinstance(value, list) and value:
        index = data.draw(st.integers(0, len(value) - 1))
        copy = list(value)
        copy[index] = _mutate(copy[index], data)
        return copy
    return data.draw(st.one_of(
        st.integers(min_value=-(2**63), max_value=2**64 - 1), st.text(max_size=80),
        st.binary(max_size=40), st.none(), st.booleans(), st.floats(), st.just([])))


SEEDS = [golden(name) for name in CASES]


@FUZZ
@given(payload=st.one_of(st.binary(max_size=4096), st.sampled_from(SEEDS).flatmap(
    lambda seed: st.tuples(st.just(seed), st.integers(0, len(seed) - 1), st.integers(0, 255))
    .map(lambda t: t[0][:t[1]] + bytes([t[2]]) + t[0][t[1] + 1:]))))
def test_decoders_never_raise_on_bytes(payload: bytes) -> None:
    for decoder in (batch_decoder(), ack_decoder()):
        result = decoder.decode(payload)
        assert isinstance(result, (Rejected, CollectBatch, CollectAck))


@FUZZ
@given(data=st.data(), name=st.sampled_from(sorted(CASES)))
def test_decoders_never_raise_on_mutated_messages(data: st.DataObject, name: str) -> None:
    tree = msgspec.msgpack.decode(golden(name))
    payload = msgspec.msgpack.encode(_mutate(tree, data))
    for decoder in (batch_decoder(), ack_decoder()):
        result = decoder.decode(payload)
        assert isinstance(result, (Rejected, CollectBatch, CollectAck))
