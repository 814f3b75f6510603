"""Golden bytes: the wire never changes by accident.

If one of these fails, a change altered what agents in the field receive or send. The
only legitimate change is appending a field with a default (older decoders ignore
trailing elements, newer ones default missing ones): then keep the old golden file as
``<name>.v<N>.hex`` so its bytes are still proven to decode, re-bless deliberately with
``python -m tests.protocols.golden_cases``, and say why in the commit.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from .golden_cases import cases, encoded

GOLDEN = Path(__file__).with_name("golden")
CASES = cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_encoding_matches_golden_bytes(name: str) -> None:
    value, _ = CASES[name]
    expected = bytes.fromhex((GOLDEN / f"{name}.hex").read_text().strip())
    assert encoded(value) == expected


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_bytes_decode_to_the_sample(name: str) -> None:
    value, type_ = CASES[name]
    golden = bytes.fromhex((GOLDEN / f"{name}.hex").read_text().strip())
    decoded = msgspec.msgpack.decode(golden, type=type_)
    if isinstance(value, bytes):
        assert msgspec.msgpack.encode(decoded) == value
    else:
        assert decoded == value


def test_every_golden_file_has_a_case() -> None:
    files = {p.stem for p in GOLDEN.glob("*.hex") if ".v" not in p.stem}
    assert files == set(CASES)


HISTORIC = sorted(p.name for p in GOLDEN.glob("*.v*.hex"))


@pytest.mark.parametrize("filename", HISTORIC)
def test_bytes_of_earlier_schema_versions_still_decode(filename: str) -> None:
    """An agent or controller that shipped earlier still speaks these bytes: they decode
    with today's types, appended fields taking their defaults."""
    name = filename.split(".v")[0]
    value, type_ = CASES[name]
    old = bytes.fromhex((GOLDEN / filename).read_text().strip())
    decoded = msgspec.msgpack.decode(old, type=type_)
    assert decoded == value  # the samples use the defaults of every appended field


class PlanSlotV1(msgspec.Struct, array_like=True):
    slot_id: str
    programme: str
    start_ns: int
    content: bytes
    duration_ms: int
    priority: int
    policy: int
    window_end_ns: int

class PlanV1(msgspec.Struct, array_like=True, tag=1):
    version: int
    issued_ns: int
    agent_id: str
    tz: str
    horizon_end_ns: int
    slots: list[PlanSlotV1]


def test_decoders_of_earlier_versions_ignore_appended_fields() -> None:
    """And the other way round: today's bytes still decode with the earlier layout."""
    from protocols.messages import Plan

    current = bytes.fromhex((GOLDEN / "doc-plan.hex").read_text().strip())
    old_view = msgspec.msgpack.decode(current, type=PlanV1)
    plan: Plan = CASES["doc-plan"][0]
    assert [s.slot_id for s in old_view.slots] == [s.slot_id for s in plan.slots]


class DataPlaneAccessV1(msgspec.Struct, array_like=True):
    endpoint: str
    server_public_key: bytes


class ClaimGrantedV1(msgspec.Struct, array_like=True, tag=1):
    agent_id: str
    commune: str
    village: str | None
    cluster: str | None
    broker: list[object]
    data_plane: DataPlaneAccessV1
    trust: list[object]
    trust_mark: list[int]


def test_agents_enrolled_before_the_clock_endpoint_still_read_a_grant() -> None:
    """An agent of v1.0 claiming from a newer controller ignores ``clock_endpoint``."""
    from protocols.enrolment import ClaimGranted, DataPlaneAccess

    plane = DataPlaneAccess("tcp://station.example:7710", bytes(32),
                            clock_endpoint="tcp://station.example:7711")
    sample: ClaimGranted = CASES["claim-granted"][0]
    current = msgspec.msgpack.encode(msgspec.structs.replace(sample, data_plane=plane))
    old_view = msgspec.msgpack.decode(current, type=ClaimGrantedV1)
    assert old_view.data_plane.endpoint == "tcp://station.example:7710"
    assert msgspec.msgpack.decode(current, type=ClaimGranted).data_plane == plane

def test_heartbeat_is_compact() -> None:
    """4G bytes matter: a typical heartbeat stays well under 100 bytes of payload."""
    hb, _ = CASES["agent-heartbeat"]
    assert len(encoded(hb)) < 100


def test_a_known_heartbeat_byte_layout() -> None:
    """Spot-check the layout by hand: an array whose first element is the version tag."""
    golden = bytes.fromhex((GOLDEN / "agent-heartbeat.hex").read_text().strip())
    assert golden[0] == 0x90 + 15  # fixarray of 15: tag + 14 fields
    assert golden[1] == 0x01  # schema version 1
    assert golden[2] == 0x94  # the stamp: [boot, mono_ns, wall_ns, quality]
