"""Clock-exchange golden cases: name -> (message, type to decode with).

Re-bless on purpose only (see ``tests/protocols/test_golden_bytes.py`` for the rules):
``python -m tests.clocksync.golden_cases``.
"""

from __future__ import annotations

from typing import Any

from protocols.clock_exchange import TimeReply, TimeRequest
from protocols.codec import encode
from protocols.timefields import TimeQuality

T1 = 1_767_225_600_123_456_789  # 2026-01-01T00:00:00.123456789Z on the agent's clock
T2 = 1_767_225_600_611_000_500  # the controller is ~0.5 s ahead
T3 = T2 + 41_250


def cases() -> dict[str, tuple[Any, Any]]:
    return {
        "time-request": (TimeRequest(seq=7, t1_ns=T1), TimeRequest),
        "time-request-unset-clock": (TimeRequest(seq=2**32 - 1, t1_ns=12_345_678_901),
                                     TimeRequest),  # a Pi that booted in 1970
        "time-reply": (TimeReply(seq=7, t1_ns=T1, t2_ns=T2, t3_ns=T3,
                                 quality=TimeQuality.SYNCED, timebase=0x5EED_0001), TimeReply),
        "time-reply-unsynced": (TimeReply(seq=8, t1_ns=-1, t2_ns=0, t3_ns=1,
                                          quality=TimeQuality.UNSYNCED, timebase=0), TimeReply),
    }


if __name__ == "__main__":  # python -m tests.clocksync.golden_cases  (re-bless on purpose)
    from pathlib import Path

    folder = Path(__file__).with_name("golden")
    for name, (value, _) in cases().items():
        (folder / f"{name}.hex").write_text(encode(value).hex() + "\n")
        print("wrote", name)
