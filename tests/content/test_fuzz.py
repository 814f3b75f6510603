"""Hostile bytes never make a content decoder raise, and what passes is well-formed."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.codec import Rejected, RejectionCounter, encode
from protocols.content import AgentFrame, ServiceFrame, agent_frame_decoder, service_frame_decoder

from .golden_cases import cases

SEEDS = [encode(value) for value, _ in cases().values()]
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

hostile_bytes = st.one_of(
    st.binary(max_size=512),
    st.sampled_from(SEEDS).flatmap(lambda seed: st.tuples(
        st.just(seed), st.integers(0, len(seed) - 1), st.integers(0, 255),
        st.integers(0, len(seed))).map(
            lambda t: (t[0][:t[1]] + bytes([t[2]]) + t[0][t[1] + 1:])[:t[3] or None])),
)

leaves = st.one_of(
    st.integers(min_value=-(2**64), max_value=2**64), st.text(max_size=40),
    st.binary(max_size=40), st.none(), st.booleans(), st.floats(),
    st.lists(st.integers(), max_size=3), st.just({}), st.just([]))


def decode_both(payload: Any) -> list[Any]:
    counter = RejectionCounter()
    return [agent_frame_decoder(counter).decode(payload),
            service_frame_decoder(counter).decode(payload)]


@FUZZ
@given(payload=hostile_bytes)
def test_decoders_never_raise_on_bytes(payload: bytes) -> None:
    for result in decode_both(payload):
        assert isinstance(result, (Rejected, AgentFrame, ServiceFrame))


@FUZZ
@given(seed=st.sampled_from(SEEDS), outer=st.booleans(), index=st.integers(0, 6), leaf=leaves)
def test_mutated_fields_are_rejected_or_valid(seed: bytes, outer: bool, index: int,
                                              leaf: Any) -> None:
    tree = msgspec.msgpack.decode(seed)
    target = tree if outer else tree[1]
    target[index % len(target)] = leaf
    try:
        mutated = msgspec.msgpack.encode(tree)
    except (OverflowError, TypeError):
        return  # not encodable as msgpack, so it cannot arrive either
    for decoder in (agent_frame_decoder(), service_frame_decoder()):
        result = decoder.decode(mutated)
        if not isinstance(result, Rejected):
            # Whatever passed must satisfy the constraints: a re-encode round-trips.
            assert decoder.decode(encode(result)) == result


@FUZZ
@given(data=st.one_of(st.none(), st.integers(), st.text(), st.lists(st.integers())))
def test_non_bytes_input_is_refused_not_raised(data: Any) -> None:
    for result in decode_both(data):
        assert isinstance(result, Rejected)
