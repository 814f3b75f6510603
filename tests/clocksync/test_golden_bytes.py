"""Golden bytes for the clock exchange: agents in the field keep the bytes they shipped with.

Same rules as ``tests/protocols/test_golden_bytes.py``: fields are only appended with
defaults; keep an old golden file as ``<name>.v<N>.hex`` and re-bless deliberately with
``python -m tests.clocksync.golden_cases``.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from protocols.clock_exchange import (
    MAX_REPLY_BYTES,
    MAX_REQUEST_BYTES,
    TimeReply,
    TimeRequest,
    reply_decoder,
    request_decoder,
)
from protocols.codec import Reason, Rejected, encode
from protocols.timefields import TimeQuality

from .golden_cases import T1, T2, T3, cases

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
    decoder = request_decoder() if type_ is TimeRequest else reply_decoder()
    assert decoder.decode(golden(name)) == value


def test_every_golden_file_has_a_case() -> None:
    assert {p.stem for p in GOLDEN.glob("*.hex")} == set(CASES)


def test_request_layout_by_hand() -> None:
    """[version, seq, t1]: a fixarray of 3, version 1, then msgpack integers."""
    raw = golden("time-request")
    assert raw[0] == 0x93 and raw[1] == 0x01 and raw[2] == 0x07
    assert raw[3] == 0xCF and int.from_bytes(raw[4:12], "big") == T1  # uint64
    assert len(raw) == 12


def test_reply_layout_by_hand() -> None:
    """[version, seq, t1, t2, t3, quality, timebase]."""
    raw = golden("time-reply")
    assert raw[0] == 0x97 and raw[1] == 0x01 and raw[2] == 0x07
    assert int.from_bytes(raw[4:12], "big") == T1
    assert int.from_bytes(raw[13:21], "big") == T2
    assert int.from_bytes(raw[22:30], "big") == T3
    assert raw[30] == int(TimeQuality.SYNCED)
    assert raw[31] == 0xCE and int.from_bytes(raw[32:36], "big") == 0x5EED_0001


def test_messages_are_compact_and_under_their_caps() -> None:
    """Cheap on 4G: a request is a few bytes, a reply well under the decoder's cap."""
    for name, (value, type_) in CASES.items():
        size = len(encode(value))
        assert size <= (MAX_REQUEST_BYTES if type_ is TimeRequest else MAX_REPLY_BYTES) // 2, name
    assert len(golden("time-reply")) <= 40


def test_a_later_version_with_appended_fields_still_decodes() -> None:
    """Forward compatibility: an older agent ignores fields a newer controller appends."""
    tree = msgspec.msgpack.decode(golden("time-reply"))
    newer = msgspec.msgpack.encode([*tree, 12345, "future"])
    assert reply_decoder().decode(newer) == CASES["time-reply"][0]


def test_refusals_say_why() -> None:
    decoder = reply_decoder()
    tree = msgspec.msgpack.decode(golden("time-reply"))
    cases_ = {
        Reason.UNKNOWN_VERSION: msgspec.msgpack.encode([2, *tree[1:]]),
        Reason.INVALID: msgspec.msgpack.encode(tree[:5]),  # a field missing
        Reason.MALFORMED: b"\xc1",
        Reason.OVERSIZE: b"\x91" + b"\x00" * MAX_REPLY_BYTES,
    }
    for reason, payload in cases_.items():
        result = decoder.decode(payload)
        assert isinstance(result, Rejected) and result.reason is reason, (reason, result)
    bad_quality = msgspec.msgpack.encode([*tree[:5], 7, tree[6]])
    result = decoder.decode(bad_quality)
    assert isinstance(result, Rejected) and result.reason is Reason.INVALID
    negative_seq = msgspec.msgpack.encode([1, -1, T1])
    refused = request_decoder().decode(negative_seq)
    assert isinstance(refused, Rejected) and refused.reason is Reason.INVALID


def test_reply_roundtrip_keeps_extreme_values() -> None:
    reply = TimeReply(seq=0, t1_ns=-(2**63), t2_ns=2**63 - 1, t3_ns=0,
                      quality=TimeQuality.ESTIMATED, timebase=2**32 - 1)
    assert reply_decoder().decode(encode(reply)) == reply
