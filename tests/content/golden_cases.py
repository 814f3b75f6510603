"""Content-transfer golden cases: name -> (frame, type to decode with).

Re-bless on purpose only (see ``tests/protocols/test_golden_bytes.py`` for the rules):
``python -m tests.content.golden_cases``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from protocols.codec import encode
from protocols.content import (
    NO_DEADLINE_NS,
    AgentFrame,
    Cancel,
    Chunk,
    Credit,
    Fetch,
    ServiceFrame,
    Status,
    StatusCode,
)

SHA = hashlib.sha256(b"ban tin phong chong bao so 3").digest()
AIR = 1_767_247_200_000_000_000  # 2026-01-01T06:00:00Z (13:00 in Vietnam)
SIZE = 1_800_000  # a 10-minute 24 kbit/s Opus bulletin
DATA = bytes(range(16))


def cases() -> dict[str, tuple[Any, Any]]:
    return {
        "fetch": (AgentFrame(Fetch(SHA, 0, 8, AIR)), AgentFrame),
        "fetch-resume": (AgentFrame(Fetch(SHA, 901_120, 8, AIR)), AgentFrame),
        "fetch-pinned": (AgentFrame(Fetch(SHA, 0, 64, NO_DEADLINE_NS)), AgentFrame),
        "credit": (AgentFrame(Credit(SHA, 32_768)), AgentFrame),
        "cancel": (AgentFrame(Cancel(SHA)), AgentFrame),
        "chunk": (ServiceFrame(Chunk(SHA, SIZE, 901_120, DATA)), ServiceFrame),
        "chunk-at-end": (ServiceFrame(Chunk(SHA, SIZE, SIZE, b"")), ServiceFrame),
        "status-queued": (ServiceFrame(Status(SHA, StatusCode.QUEUED, 0, 17)), ServiceFrame),
        "status-busy": (ServiceFrame(Status(SHA, StatusCode.BUSY, 30_000)), ServiceFrame),
        "status-not-found": (ServiceFrame(Status(SHA, StatusCode.NOT_FOUND)), ServiceFrame),
        "status-denied": (ServiceFrame(Status(SHA, StatusCode.DENIED)), ServiceFrame),
        "status-bad-range": (ServiceFrame(Status(SHA, StatusCode.BAD_RANGE)), ServiceFrame),
    }


if __name__ == "__main__":  # python -m tests.content.golden_cases  (re-bless on purpose)
    from pathlib import Path

    folder = Path(__file__).with_name("golden")
    for name, (value, _) in cases().items():
        (folder / f"{name}.hex").write_text(encode(value).hex() + "\n")
        print("wrote", name)
