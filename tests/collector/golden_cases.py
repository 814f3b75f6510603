"""One canonical example of every collection message: golden bytes and fuzz seeds."""

from __future__ import annotations

from typing import Any

from protocols.collect import (
    AckStatus,
    AgentRow,
    AttestationRow,
    ClusterRow,
    CollectAck,
    CollectBatch,
    JournalSlice,
    Registry,
    SlotRow,
    StationRow,
    UnitRow,
    UnitVersionRow,
)
from protocols.messages import (
    Anchor,
    Evidence,
    IntervalExtend,
    IntervalOpen,
    JournalEntry,
    Play,
    PlayOutcome,
    SeqRange,
)
from protocols.timefields import Stamp, TimeQuality

T0 = 1_795_000_000_000_000_000  # 2026-11-18T09:46:40Z
STAMP = Stamp(boot=3, mono_ns=12_345_678_901, wall_ns=T0, quality=TimeQuality.SYNCED)
JOURNAL = bytes(range(16))
HASH = bytes(range(32))

REGISTRY = Registry(
    units=[UnitRow("tinh-a", "province", "01"), UnitRow("xa-a", "commune", "00004"),
           UnitRow("thon-1", "village"), UnitRow("xa-c", "commune", None, "xa-a")],
    versions=[UnitVersionRow("tinh-a", "Tỉnh A", None, 19_723),
              UnitVersionRow("xa-a", "Xã A", "tinh-a", 19_723),
              UnitVersionRow("thon-1", "Thôn 1", "xa-a", 19_723),
              UnitVersionRow("xa-c", "Xã C", "tinh-a", 19_723, 20_362)],
    stations=[StationRow("st-1", "xa-a", "Đài xã A", "hybrid")],
    clusters=[ClusterRow("c-1", "xa-a", "Cụm 1", "ip", "st-1", "thon-1"),
              ClusterRow("c-2", "xa-a", "Cụm 2", "wired", "st-1", "thon-1")],
    agents=[AgentRow("ag-0001", "xa-a", "c-1", "active")])

CASES: dict[str, Any] = {
    "batch": CollectBatch(
        commune="xa-a", batch=7, sent_ns=T0,
        journals=[JournalSlice("ag-0001", JOURNAL, [
            JournalEntry(11, IntervalOpen(STAMP, Evidence.SINK)),
            JournalEntry(12, Anchor(STAMP)),
            JournalEntry(14, IntervalExtend(STAMP, 11, Evidence.SINK)),
            JournalEntry(15, Play(STAMP, "news-20261118T000000Z", HASH, T0, T0 + 10**9,
                                  T0 + 61 * 10**9, PlayOutcome.AIRED, "", Evidence.SINK))],
            [SeqRange(13, 13)])],
        slots=[SlotRow("ag-0001", "news-20261118T000000Z", "news", T0, 60_000,
                       T0 + 1800 * 10**9, HASH, 20, 0, False, 1, 4, T0 - 86_400 * 10**9)],
        registry=REGISTRY,
        attestations=[AttestationRow("0123456789abcdef0123456789abcdef", "xa-a", "c-2", None,
                                     20_393, 20_484, "kiểm tra", "can-bo", T0)],
        registry_digest=bytes(32)),
    "batch-empty": CollectBatch(commune="xa-a", batch=8, sent_ns=T0),
    "ack-stored": CollectAck("xa-a", 7, AckStatus.STORED, 4),
    "ack-refused": CollectAck("xa-a", 7, AckStatus.REFUSED, 0, "not collected here"),
}


def cases() -> dict[str, tuple[Any, Any]]:
    return {name: (value, type(value)) for name, value in CASES.items()}


if __name__ == "__main__":  # python -m tests.collector.golden_cases  (re-bless on purpose)
    from pathlib import Path

    from protocols.codec import encode

    folder = Path(__file__).with_name("golden")
    for name, (value, _) in cases().items():
        (folder / f"{name}.hex").write_text(encode(value).hex() + "\n")
        print("wrote", name)
