"""Golden bytes for content transfer: agents in the field keep the bytes they shipped with.

Same rules as ``tests/protocols/test_golden_bytes.py``: fields are only appended with
defaults; keep an old golden file as ``<name>.v<N>.hex`` and re-bless deliberately with
``python -m tests.content.golden_cases``.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from protocols.codec import Reason, Rejected, encode
from protocols.content import (
    CHUNK_BYTES,
    MAX_AGENT_FRAME_BYTES,
    MAX_SERVICE_FRAME_BYTES,
    MAX_WINDOW,
    AgentFrame,
    Chunk,
    Fetch,
    ServiceFrame,
    StatusCode,
    agent_frame_decoder,
    service_frame_decoder,
)

from .golden_cases import AIR, SHA, SIZE, cases

GOLDEN = Path(__file__).with_name("golden")
CASES = cases()


def golden(name: str) -> bytes:
    return bytes.fromhex((GOLDEN / f"{name}.hex").read_text().strip())


@pytest.mark.parametrize("name", sorted(CASES))
def test_encoding_matches_golden_bytes(name: str) -> None:
    value, _ = CASES[name]
    assert encode(value) == golden(name)


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_bytes_decode_to_the_sample(name: str) -> None:
    value, type_ = CASES[name]
    assert msgspec.msgpack.decode(golden(name), type=type_) == value
    decoder = agent_frame_decoder() if type_ is AgentFrame else service_frame_decoder()
    assert decoder.decode(golden(name)) == value


def test_every_golden_file_has_a_case() -> None:
    assert {p.stem for p in GOLDEN.glob("*.hex")} == set(CASES)


def test_fetch_layout_by_hand() -> None:
    """[version, [op tag, sha256, offset, window, need_by]]."""
    raw = golden("fetch")
    assert raw[:4] == bytes([0x92, 0x01, 0x95, 0x01])  # envelope v1, Fetch has tag 1
    assert raw[4:6] == bytes([0xC4, 32]) and raw[6:38] == SHA  # bin8 of 32 bytes
    assert raw[38] == 0x00 and raw[39] == 0x08  # offset 0, window 8
    assert raw[40] == 0xCF and int.from_bytes(raw[41:49], "big") == AIR
    assert len(raw) == 49


def test_chunk_layout_by_hand() -> None:
    """[version, [op tag, sha256, size, offset, data]]: the header is 51 bytes + data."""
    raw = golden("chunk")
    assert raw[:4] == bytes([0x92, 0x01, 0x95, 0x01])
    assert raw[6:38] == SHA
    assert raw[38] == 0xCE and int.from_bytes(raw[39:43], "big") == SIZE
    assert raw[43] == 0xCE and int.from_bytes(raw[44:48], "big") == 901_120
    assert raw[48:50] == bytes([0xC4, 16]) and raw[50:] == bytes(range(16))


def test_status_layout_by_hand() -> None:
    raw = golden("status-queued")
    assert raw[:4] == bytes([0x92, 0x01, 0x95, 0x02])  # Status has tag 2
    assert raw[38:] == bytes([int(StatusCode.QUEUED), 0x00, 17])


def test_frames_are_compact_and_under_their_caps() -> None:
    """Cheap on 4G: a request is under 50 bytes; a full chunk carries < 0.4 % header."""
    for name, (value, type_) in CASES.items():
        cap = MAX_AGENT_FRAME_BYTES if type_ is AgentFrame else MAX_SERVICE_FRAME_BYTES
        assert len(encode(value)) <= cap // 4 or type_ is ServiceFrame, name
    assert max(len(golden(n)) for n in ("fetch", "credit", "cancel")) <= 49
    full = encode(ServiceFrame(Chunk(SHA, 2**40, 2**40 - CHUNK_BYTES, b"\0" * CHUNK_BYTES)))
    assert len(full) - CHUNK_BYTES <= 64
    assert len(full) <= MAX_SERVICE_FRAME_BYTES
    assert service_frame_decoder().decode(full) == msgspec.msgpack.decode(full, type=ServiceFrame)


def test_a_later_version_with_appended_fields_still_decodes() -> None:
    """Forward compatibility: an older agent ignores fields a newer controller appends."""
    version, op = msgspec.msgpack.decode(golden("chunk"))
    newer = msgspec.msgpack.encode([version, [*op, 12345, "future"], "more"])
    assert service_frame_decoder().decode(newer) == CASES["chunk"][0]
    version, op = msgspec.msgpack.decode(golden("fetch"))
    newer = msgspec.msgpack.encode([version, [*op, True]])
    assert agent_frame_decoder().decode(newer) == CASES["fetch"][0]


def test_refusals_say_why() -> None:
    decoder = agent_frame_decoder()
    version, op = msgspec.msgpack.decode(golden("fetch"))
    cases_ = {
        Reason.UNKNOWN_VERSION: msgspec.msgpack.encode([2, op]),
        Reason.INVALID: msgspec.msgpack.encode([version, op[:4]]),  # a field missing
        Reason.MALFORMED: b"\xc1",
        Reason.OVERSIZE: b"\x92\x01" + b"\x00" * MAX_AGENT_FRAME_BYTES,
    }
    for reason, payload in cases_.items():
        result = decoder.decode(payload)
        assert isinstance(result, Rejected) and result.reason is reason, (reason, result)
    invalid = [
        [version, [9, *op[1:]]],  # an operation nobody knows
        [version, [op[0], op[1][:31], *op[2:]]],  # a 31-byte hash
        [version, [op[0], op[1], -1, *op[3:]]],  # a negative offset
        [version, [op[0], op[1], op[2], 0, op[4]]],  # no credit at all
        [version, [op[0], op[1], op[2], MAX_WINDOW + 1, op[4]]],
    ]
    for tree in invalid:
        result = decoder.decode(msgspec.msgpack.encode(tree))
        assert isinstance(result, Rejected) and result.reason is Reason.INVALID, tree
    version, op = msgspec.msgpack.decode(golden("chunk"))
    too_big = msgspec.msgpack.encode([version, [*op[:4], b"\0" * (CHUNK_BYTES + 1)]])
    refused = service_frame_decoder().decode(too_big)
    assert isinstance(refused, Rejected) and refused.reason is Reason.INVALID
    bad_code = msgspec.msgpack.decode(golden("status-busy"))
    bad_code[1][2] = 99
    refused = service_frame_decoder().decode(msgspec.msgpack.encode(bad_code))
    assert isinstance(refused, Rejected) and refused.reason is Reason.INVALID


def test_an_agent_frame_is_not_a_service_frame() -> None:
    """The two directions cannot be confused: a Fetch is no valid service frame."""
    assert isinstance(service_frame_decoder().decode(golden("fetch")), Rejected)
    assert isinstance(agent_frame_decoder().decode(golden("chunk")), Rejected)


def test_extreme_values_round_trip() -> None:
    frame = AgentFrame(Fetch(b"\xff" * 32, 2**63 - 1, MAX_WINDOW, -(2**63)))
    assert agent_frame_decoder().decode(encode(frame)) == frame
