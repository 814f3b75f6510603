"""Hostile input never makes the clock exchange raise: decoders, responder, estimator."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.clocksync import EstimatorConfig, ExchangeClock, Sample
from controller.dataplane.time_service import TimeResponder
from protocols.clock import ManualClock
from protocols.clock_exchange import TimeReply, TimeRequest, reply_decoder, request_decoder
from protocols.codec import Rejected, RejectionCounter, encode
from protocols.timefields import TimeQuality

from .golden_cases import cases

SEEDS = [encode(value) for value, _ in cases().values()]
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

hostile_bytes = st.one_of(
    st.binary(max_size=256),
    st.sampled_from(SEEDS).flatmap(lambda seed: st.tuples(
        st.just(seed), st.integers(0, len(seed) - 1), st.integers(0, 255),
        st.integers(0, len(seed))).map(
            lambda t: (t[0][:t[1]] + bytes([t[2]]) + t[0][t[1] + 1:])[:t[3] or None])),
)

leaves = st.one_of(
    st.integers(min_value=-(2**64), max_value=2**64), st.text(max_size=40),
    st.binary(max_size=40), st.none(), st.booleans(), st.floats(),
    st.lists(st.integers(), max_size=3), st.just({}))


@FUZZ
@given(payload=hostile_bytes)
def test_decoders_never_raise_on_bytes(payload: bytes) -> None:
    counter = RejectionCounter()
    for decoder in (request_decoder(counter), reply_decoder(counter)):
        result = decoder.decode(payload)
        assert isinstance(result, (Rejected, TimeRequest, TimeReply))


@FUZZ
@given(seed=st.sampled_from(SEEDS), index=st.integers(0, 6), leaf=leaves)
def test_mutated_fields_are_rejected_or_valid(seed: bytes, index: int, leaf: Any) -> None:
    tree = msgspec.msgpack.decode(seed)
    tree[index % len(tree)] = leaf
    try:
        mutated = msgspec.msgpack.encode(tree)
    except (OverflowError, TypeError):
        return  # not encodable as msgpack, so it cannot arrive either
    for decoder in (request_decoder(), reply_decoder()):
        result = decoder.decode(mutated)
        if not isinstance(result, Rejected):
            # Whatever passed must satisfy the constraints: a re-encode round-trips.
            assert decoder.decode(encode(result)) == result


@FUZZ
@given(data=st.one_of(st.none(), st.integers(), st.text(), st.lists(st.integers())))
def test_non_bytes_input_is_refused_not_raised(data: Any) -> None:
    result = request_decoder().decode(data)
    assert isinstance(result, Rejected)


@FUZZ
@given(payload=hostile_bytes)
def test_the_responder_answers_or_refuses_never_raises(payload: bytes) -> None:
    """What the service thread runs on every request from an authenticated peer."""
    responder = TimeResponder(ManualClock(), timebase=3)
    answer = responder.respond(payload, t2_ns=5)
    if isinstance(answer, Rejected):
        return
    request = request_decoder().decode(payload)
    reply = reply_decoder().decode(answer)
    assert isinstance(request, TimeRequest) and isinstance(reply, TimeReply)
    assert (reply.seq, reply.t1_ns, reply.t2_ns, reply.timebase) == (
        request.seq, request.t1_ns, 5, 3)


I64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@FUZZ
@given(replies=st.lists(st.tuples(I64, I64, st.integers(0, 10**10)), min_size=1, max_size=40))
def test_the_estimator_survives_any_controller_timestamps(
        replies: list[tuple[int, int, int]]) -> None:
    """A broken controller may send any t2/t3: the agent's clock keeps working."""
    base = ManualClock()
    clock = ExchangeClock(base, EstimatorConfig(min_samples=2, min_drift_span_s=0.0))
    for t2, t3, rtt in replies:
        mono1 = base.monotonic_ns()
        base.advance(rtt)
        clock.add_sample(Sample(mono1, base.monotonic_ns(), base.wall_ns(), t2, t3), 1)
        base.advance(10**9)
        assert isinstance(clock.wall_ns(), int)
        assert clock.quality() in (TimeQuality.UNSYNCED, TimeQuality.ESTIMATED)
        clock.snapshot()
